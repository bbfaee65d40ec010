//! `/profile/api-keys`: a user's personal API keys.
