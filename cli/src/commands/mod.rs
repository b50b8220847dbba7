//! One module per subcommand.

pub mod configure;
pub mod credential_process;
pub mod login;
pub mod logout;
pub mod token_file;
