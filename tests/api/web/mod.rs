//! The browser app (`web/`, README "Browsers") end to end in Chromium: log in, upload, share,
//! refresh, in both storage modes; logging out; and "Team files" for members of an
//! organisation. The operator console is in `admin/`.

mod app;
mod logout;
mod team;
