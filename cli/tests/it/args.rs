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

#[test]
fn task_commands_explain_themselves_with_spec_ranges_and_defaults() {
    use clap::CommandFactory as _;
    use runware_host::spec;
    let mut cli = Cli::command();
    let help = |cli: &mut clap::Command, name: &str| -> String {
        cli.find_subcommand_mut(name)
            .unwrap_or_else(|| panic!("no `{name}` command"))
            .render_long_help()
            .to_string()
    };
    let video = help(&mut cli, "video");
    for needle in [
        "videoInference".to_string(),
        spec::DEFAULT_VIDEO_MODEL.to_string(),
        format!(
            "{} to {}",
            spec::VIDEO_DURATION.min,
            spec::VIDEO_DURATION.max
        ),
        format!("{} to {}", spec::VIDEO_FPS.min, spec::VIDEO_FPS.max),
        "--no-wait".to_string(),
        "--webhook".to_string(),
        "--dry-run".to_string(),
    ] {
        assert!(
            video.contains(&needle),
            "video --help lacks {needle}:\n{video}"
        );
    }
    let audio = help(&mut cli, "audio");
    assert!(audio.contains(spec::DEFAULT_SPEECH_MODEL), "{audio}");
    let upscale = help(&mut cli, "upscale");
    assert!(upscale.contains(spec::DEFAULT_UPSCALE_MODEL), "{upscale}");
    assert!(
        upscale.contains(spec::DEFAULT_VIDEO_UPSCALE_MODEL),
        "{upscale}"
    );
    let remove = help(&mut cli, "remove-background");
    assert!(
        remove.contains(spec::DEFAULT_REMOVE_BACKGROUND_MODEL),
        "{remove}"
    );
    let enhance = help(&mut cli, "enhance-prompt");
    assert!(
        enhance.contains(&format!(
            "{} to {}",
            spec::PROMPT_VERSIONS.min,
            spec::PROMPT_VERSIONS.max
        )),
        "{enhance}"
    );
    for name in ["caption", "upload", "account", "poll"] {
        assert!(!help(&mut cli, name).is_empty());
    }
}
