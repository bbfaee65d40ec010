-- The sessions page (issue #26, point 4): each session's device (the User-Agent sent at
-- log-in, at most 300 characters) and the client address Atrium trusted then. Sessions
-- started before this have neither ("Unknown device").
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN client_address TEXT;
