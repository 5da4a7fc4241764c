//! The command line's definition ([`runware_cli::args`]).

use std::time::Duration;

use runware_cli::args::{Cli, parse_secs};

#[test]
fn timeout_parsing() {
    assert_eq!(parse_secs("1.5"), Ok(Duration::from_millis(1500)));
    assert!(parse_secs("0").is_err());
    assert!(parse_secs("abc").is_err());
    assert!(parse_secs("-3").is_err());
}

#[test]
fn cli_definition_is_consistent() {
    use clap::CommandFactory as _;
    Cli::command().debug_assert();
}
