//! The browser app (`web/`, README "Browsers") end to end in Chromium: log in, upload, share,
//! refresh, in both storage modes; and logging out. The operator console is in `admin/`.

mod app;
mod logout;
