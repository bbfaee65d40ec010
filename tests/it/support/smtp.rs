//! A small but real SMTP server (RFC 5321 subset) running inside the test
//! process, for exercising the application's outgoing mail over a socket.
//!
//! Every `SmtpServer` binds its own `127.0.0.1:0` listener and keeps its own
//! state, so tests running in parallel never see each other's mail. The
//! server task (and every connection task) stops when the `SmtpServer` is
//! dropped.
//!
//! Supported: greeting, EHLO/HELO, MAIL FROM, RCPT TO, DATA (with
//! dot-unstuffing), RSET, NOOP, QUIT; VRFY/EXPN/HELP/STARTTLS/AUTH answer 502,
//! anything else 500. No TLS, no AUTH.

#![allow(dead_code)]

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders, PartType};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// How the server treats new transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SmtpMode {
    /// Normal operation: every message is accepted and recorded.
    #[default]
    Accept,
    /// `MAIL FROM` is answered with `451` (temporary failure).
    RejectTransient,
    /// `MAIL FROM` is accepted, every `RCPT TO` is answered with `550`.
    RejectPermanent,
    /// New connections are accepted but never greeted; connections that are
    /// already open stop answering at the start of their next transaction.
    Stall,
}

/// One message accepted by the server (after `DATA` completed).
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    /// Reverse-path from `MAIL FROM:<...>` (empty for the null sender `<>`).
    pub from: String,
    /// Forward-paths from every accepted `RCPT TO:<...>`, in order.
    pub to: Vec<String>,
    /// The message exactly as transmitted (CRLF line endings), after
    /// dot-unstuffing and without the terminating `.` line.
    pub raw: String,
}

const HOSTNAME: &str = "atrium-test-smtp.localhost";
/// Longest command line we accept (RFC 5321 says 512 incl. CRLF; be generous).
const MAX_COMMAND_LINE: usize = 4096;
/// Upper bound on a single message, to keep a runaway client from eating RAM.
const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

struct Shared {
    mode: Mutex<SmtpMode>,
    messages: Mutex<Vec<ReceivedMail>>,
    attempts: AtomicUsize,
    /// Number of accepted messages; `wait_for_messages` watches this.
    count_tx: watch::Sender<usize>,
}

impl Shared {
    fn mode(&self) -> SmtpMode {
        *lock(&self.mode)
    }
}

/// Locks a mutex, ignoring poisoning (a panicking test thread must not turn
/// every later assertion into a confusing `PoisonError`).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Handle to a running test SMTP server. Dropping it stops the server.
pub struct SmtpServer {
    port: u16,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // Aborting the accept task drops its `JoinSet`, which aborts every
        // connection task as well.
        self.task.abort();
    }
}

impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("port", &self.port)
            .field("mode", &self.shared.mode())
            .field("messages", &lock(&self.shared.messages).len())
            .field("attempts", &self.attempts())
            .finish()
    }
}

impl SmtpServer {
    /// Binds `127.0.0.1:0` and starts serving in a background tokio task.
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("test SMTP server: failed to bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("test SMTP server: no local address")
            .port();
        let (count_tx, _) = watch::channel(0usize);
        let shared = Arc::new(Shared {
            mode: Mutex::new(SmtpMode::Accept),
            messages: Mutex::new(Vec::new()),
            attempts: AtomicUsize::new(0),
            count_tx,
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        SmtpServer { port, shared, task }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:<port>` — plain SMTP, suitable for
    /// `AsyncSmtpTransport::<Tokio1Executor>::from_url`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Changes the behaviour for transactions (and connections) started from
    /// now on.
    pub fn set_mode(&self, mode: SmtpMode) {
        *lock(&self.shared.mode) = mode;
    }

    pub fn mode(&self) -> SmtpMode {
        self.shared.mode()
    }

    /// All messages accepted so far, in the order they were accepted.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        lock(&self.shared.messages).clone()
    }

    /// Number of `MAIL FROM` commands seen, whether accepted or refused.
    pub fn attempts(&self) -> usize {
        self.shared.attempts.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` messages have been accepted and returns all
    /// accepted messages (possibly more than `n`).
    ///
    /// Panics with the messages received so far if `timeout` elapses first.
    pub async fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let mut rx = self.shared.count_tx.subscribe();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|count| *count >= n)).await;
        match waited {
            Ok(Ok(_)) => self.messages(),
            // The sender lives in `self.shared`, so it cannot be closed while
            // we borrow `self`; treat it like a timeout anyway.
            Ok(Err(_)) | Err(_) => {
                let got = self.messages();
                let summary: Vec<String> = got
                    .iter()
                    .map(|m| format!("{:?} -> {:?}: {:?}", m.from, m.to, m.subject()))
                    .collect();
                panic!(
                    "test SMTP server {}: timed out after {:?} waiting for {} message(s); \
                     received {} message(s), {} MAIL FROM attempt(s), mode {:?}. Received: {:#?}",
                    self.url(),
                    timeout,
                    n,
                    got.len(),
                    self.attempts(),
                    self.mode(),
                    summary
                );
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(handle_connection(stream, Arc::clone(&shared)));
                }
                // Transient accept errors (e.g. EMFILE): back off briefly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            // Reap finished connection tasks so the set does not grow forever.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle_connection(stream: TcpStream, shared: Arc<Shared>) {
    let (read, write) = stream.into_split();
    // Errors just mean the peer went away; nothing useful to report.
    let _ = Session::new(BufReader::new(read), write, shared)
        .run()
        .await;
}

/// Reads and discards everything until the peer closes the connection.
async fn stall<R: AsyncRead + Unpin>(reader: &mut R) -> std::io::Result<()> {
    let mut sink = tokio::io::sink();
    tokio::io::copy(reader, &mut sink).await.map(|_| ())
}

#[derive(Default)]
struct Transaction {
    from: String,
    to: Vec<String>,
    /// Mode captured at `MAIL FROM`, so a mode change affects new
    /// transactions only.
    mode: SmtpMode,
}

enum Line {
    Eof,
    TooLong,
    Complete(Vec<u8>),
}

struct Session<R, W> {
    reader: R,
    writer: W,
    shared: Arc<Shared>,
    greeted: bool,
    txn: Option<Transaction>,
}

impl<R, W> Session<R, W>
where
    R: tokio::io::AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    fn new(reader: R, writer: W, shared: Arc<Shared>) -> Self {
        Session {
            reader,
            writer,
            shared,
            greeted: false,
            txn: None,
        }
    }

    async fn reply(&mut self, text: &str) -> std::io::Result<()> {
        self.writer.write_all(text.as_bytes()).await?;
        self.writer.write_all(b"\r\n").await?;
        self.writer.flush().await
    }

    /// Reads one line including its terminator. Lines longer than `limit`
    /// bytes are consumed completely and reported as `TooLong`.
    async fn read_line(&mut self, limit: usize) -> std::io::Result<Line> {
        let mut line = Vec::new();
        let mut too_long = false;
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                return Ok(if too_long {
                    Line::TooLong
                } else if line.is_empty() {
                    Line::Eof
                } else {
                    Line::Complete(line)
                });
            }
            let (used, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            if !too_long {
                if line.len().saturating_add(used) > limit {
                    too_long = true;
                    line = Vec::new();
                } else {
                    line.extend_from_slice(&available[..used]);
                }
            }
            self.reader.consume(used);
            if done {
                return Ok(if too_long {
                    Line::TooLong
                } else {
                    Line::Complete(line)
                });
            }
        }
    }

    async fn run(mut self) -> std::io::Result<()> {
        if self.shared.mode() == SmtpMode::Stall {
            return stall(&mut self.reader).await;
        }
        self.reply(&format!("220 {HOSTNAME} ESMTP Atrium test server ready"))
            .await?;

        loop {
            let line = match self.read_line(MAX_COMMAND_LINE).await? {
                Line::Eof => return Ok(()),
                Line::TooLong => {
                    self.reply("500 5.5.2 Line too long").await?;
                    continue;
                }
                Line::Complete(line) => line,
            };
            // Stall mode takes over between transactions (e.g. on a pooled
            // connection that is about to start a new one).
            if self.txn.is_none() && self.shared.mode() == SmtpMode::Stall {
                return stall(&mut self.reader).await;
            }
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            let (verb, args) = match line.find(' ') {
                Some(i) => (&line[..i], line[i + 1..].trim()),
                None => (line, ""),
            };
            let verb = verb.to_ascii_uppercase();
            match verb.as_str() {
                "EHLO" | "HELO" => {
                    if args.is_empty() {
                        self.reply(&format!("501 5.5.4 Syntax: {verb} hostname"))
                            .await?;
                        continue;
                    }
                    // EHLO/HELO implies RSET (RFC 5321 §4.1.4).
                    self.txn = None;
                    self.greeted = true;
                    if verb == "EHLO" {
                        let text = format!(
                            "250-{HOSTNAME} greets {args}\r\n\
                             250-8BITMIME\r\n\
                             250-SMTPUTF8\r\n\
                             250-PIPELINING\r\n\
                             250-ENHANCEDSTATUSCODES\r\n\
                             250 SIZE {MAX_MESSAGE_BYTES}"
                        );
                        self.reply(&text).await?;
                    } else {
                        self.reply(&format!("250 {HOSTNAME} greets {args}")).await?;
                    }
                }
                "MAIL" => {
                    self.shared.attempts.fetch_add(1, Ordering::SeqCst);
                    if !self.greeted {
                        self.reply("503 5.5.1 Send EHLO/HELO first").await?;
                        continue;
                    }
                    if self.txn.is_some() {
                        self.reply("503 5.5.1 Nested MAIL command").await?;
                        continue;
                    }
                    let Some(from) = parse_path(args, "FROM:") else {
                        self.reply("501 5.5.4 Syntax: MAIL FROM:<address>").await?;
                        continue;
                    };
                    let mode = self.shared.mode();
                    match mode {
                        SmtpMode::RejectTransient => {
                            self.reply(
                                "451 4.3.0 Temporary failure (test server in RejectTransient mode)",
                            )
                            .await?;
                        }
                        SmtpMode::Stall => return stall(&mut self.reader).await,
                        SmtpMode::Accept | SmtpMode::RejectPermanent => {
                            self.txn = Some(Transaction {
                                from,
                                to: Vec::new(),
                                mode,
                            });
                            self.reply("250 2.1.0 OK").await?;
                        }
                    }
                }
                "RCPT" => {
                    let Some(txn) = self.txn.as_mut() else {
                        self.reply("503 5.5.1 Need MAIL before RCPT").await?;
                        continue;
                    };
                    let Some(to) = parse_path(args, "TO:") else {
                        self.reply("501 5.5.4 Syntax: RCPT TO:<address>").await?;
                        continue;
                    };
                    if to.is_empty() {
                        self.reply("501 5.1.3 Empty recipient address").await?;
                        continue;
                    }
                    if txn.mode == SmtpMode::RejectPermanent {
                        self.reply(
                            "550 5.1.1 Mailbox unavailable (test server in RejectPermanent mode)",
                        )
                        .await?;
                        continue;
                    }
                    txn.to.push(to);
                    self.reply("250 2.1.5 OK").await?;
                }
                "DATA" => {
                    if !args.is_empty() {
                        self.reply("501 5.5.4 DATA takes no arguments").await?;
                        continue;
                    }
                    match &self.txn {
                        None => {
                            self.reply("503 5.5.1 Need MAIL before DATA").await?;
                            continue;
                        }
                        Some(txn) if txn.to.is_empty() => {
                            self.reply("554 5.5.1 No valid recipients").await?;
                            continue;
                        }
                        Some(_) => {}
                    }
                    self.reply("354 Start mail input; end with <CRLF>.<CRLF>")
                        .await?;
                    let Some(raw) = self.read_data().await? else {
                        // EOF in the middle of DATA: the transaction is lost.
                        return Ok(());
                    };
                    let txn = self.txn.take().expect("transaction checked above");
                    if raw.len() > MAX_MESSAGE_BYTES {
                        self.reply("552 5.3.4 Message too big").await?;
                        continue;
                    }
                    let mail = ReceivedMail {
                        from: txn.from,
                        to: txn.to,
                        raw: String::from_utf8_lossy(&raw).into_owned(),
                    };
                    let id = {
                        let mut messages = lock(&self.shared.messages);
                        messages.push(mail);
                        messages.len()
                    };
                    self.shared.count_tx.send_replace(id);
                    self.reply(&format!("250 2.0.0 OK queued as {id}")).await?;
                }
                "RSET" => {
                    self.txn = None;
                    self.reply("250 2.0.0 OK").await?;
                }
                "NOOP" => self.reply("250 2.0.0 OK").await?,
                "QUIT" => {
                    self.reply(&format!("221 2.0.0 {HOSTNAME} closing connection"))
                        .await?;
                    let _ = self.writer.shutdown().await;
                    return Ok(());
                }
                "VRFY" | "EXPN" | "HELP" | "STARTTLS" | "AUTH" | "TURN" | "ETRN" | "BDAT" => {
                    self.reply("502 5.5.1 Command not implemented").await?;
                }
                _ => self.reply("500 5.5.2 Command not recognized").await?,
            }
        }
    }

    /// Reads the message after `354` up to the `CRLF.CRLF` terminator,
    /// undoing dot-stuffing. Returns `None` on EOF.
    async fn read_data(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut data = Vec::new();
        loop {
            let line = match self.read_line(usize::MAX).await? {
                Line::Eof => return Ok(None),
                Line::TooLong => unreachable!("no limit while reading DATA"),
                Line::Complete(line) => line,
            };
            if line == b".\r\n" || line == b".\n" || line == b"." {
                return Ok(Some(data));
            }
            if data.len() <= MAX_MESSAGE_BYTES {
                let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
                data.extend_from_slice(unstuffed);
            }
        }
    }
}

/// Parses `FROM:<addr> [params]` / `TO:<addr> [params]` (case-insensitive
/// keyword, optional space after the colon). Returns the address without the
/// angle brackets.
fn parse_path(args: &str, keyword: &str) -> Option<String> {
    if args.len() < keyword.len() || !args[..keyword.len()].eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = args[keyword.len()..].trim_start();
    if let Some(rest) = rest.strip_prefix('<') {
        let end = rest.find('>')?;
        Some(rest[..end].to_string())
    } else {
        // Be lenient with clients that omit the brackets.
        let addr = rest.split_whitespace().next()?;
        Some(addr.to_string())
    }
}

impl ReceivedMail {
    fn parsed(&self) -> mail_parser::Message<'_> {
        MessageParser::default()
            .parse(self.raw.as_bytes())
            .unwrap_or_else(|| panic!("received mail could not be parsed as MIME:\n{}", self.raw))
    }

    /// The decoded (RFC 2047) `Subject`, or an empty string if absent.
    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }

    /// The raw (not RFC 2047-decoded) value of the first header called
    /// `name` (case-insensitive), unfolded and trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        let head_end = self
            .raw
            .find("\r\n\r\n")
            .map(|i| i + 2)
            .or_else(|| self.raw.find("\n\n").map(|i| i + 1))
            .unwrap_or(self.raw.len());
        let head = &self.raw[..head_end];
        let mut value: Option<String> = None;
        for line in head.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.starts_with([' ', '\t']) {
                // Continuation of a folded header.
                if let Some(v) = value.as_mut() {
                    v.push_str(line);
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((field, rest)) = line.split_once(':')
                && field.trim_end().eq_ignore_ascii_case(name)
            {
                value = Some(rest.to_string());
            }
        }
        value.map(|v| v.trim().to_string())
    }

    /// The decoded content of the first `text/plain` part (charset and
    /// quoted-printable/base64 transfer encodings undone, CRLF line endings
    /// turned into `\n`). Attachments are ignored; an HTML-only message
    /// returns `None`.
    pub fn text_body(&self) -> Option<String> {
        self.first_part_of_type("plain")
    }

    /// The decoded content of the first `text/html` part (decoded like
    /// [`ReceivedMail::text_body`]).
    pub fn html_body(&self) -> Option<String> {
        self.first_part_of_type("html")
    }

    fn first_part_of_type(&self, subtype: &str) -> Option<String> {
        let message = self.parsed();
        message.parts.iter().find_map(|part| {
            let (ctype, csub): (Cow<'_, str>, Cow<'_, str>) = match part.content_type() {
                Some(ct) => (
                    Cow::from(ct.ctype()),
                    Cow::from(ct.subtype().unwrap_or_default()),
                ),
                // RFC 2045 default for parts without a Content-Type.
                None => (Cow::from("text"), Cow::from("plain")),
            };
            let is_wanted =
                ctype.eq_ignore_ascii_case("text") && csub.eq_ignore_ascii_case(subtype);
            let is_attachment = part
                .content_disposition()
                .is_some_and(|cd| cd.ctype().eq_ignore_ascii_case("attachment"));
            if !is_wanted || is_attachment {
                return None;
            }
            match &part.body {
                PartType::Text(text) | PartType::Html(text) => Some(text.replace("\r\n", "\n")),
                _ => None,
            }
        })
    }

    /// True if the top-level `Content-Type` is `multipart/alternative`.
    pub fn is_multipart_alternative(&self) -> bool {
        let message = self.parsed();
        message.root_part().content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("alternative"))
        })
    }

    /// The first URL in the text body that starts with `prefix`, running up
    /// to the next whitespace (or `<`, `>`, `"`, which cannot occur in a URL,
    /// so `<https://...>` and `href="..."` work too).
    pub fn find_link(&self, prefix: &str) -> Option<String> {
        let body = self.text_body()?;
        let start = body.find(prefix)?;
        let rest = &body[start..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
            .unwrap_or(rest.len());
        Some(rest[..end].to_string())
    }
}
