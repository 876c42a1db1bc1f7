//! The `sockstatlog` command-line tool.
fn main() {}
