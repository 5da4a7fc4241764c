//! The command line: every command and flag (`clap`), and the help text, which documents the
//! environment, the output streams and the exit codes.
//!
//! Only parsing lives here (clap's own usage errors exit 2). The checks clap cannot make, done
//! before anything is sent and also exiting 2, are elsewhere: the task file in
//! [`crate::raw`], `--extra-json` in [`crate::commands`], the key in `main.rs`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use runware_host::{OutputFormat, OutputType, spec};

/// The end of `runware --help`: the environment, the output streams and the exit codes.
pub fn after_help() -> String {
    format!(
        "\
Environment:
  RUNWARE_API_KEY    Your Runware API key (required unless --emulator, `emulate` or --dry-run).
                     The host adds it as `Authorization: Bearer …`; the component never sees it,
                     and it is never printed.
  RUNWARE_BASE_URL   The REST endpoint (default {}); same as --base-url.
  RUNWARE_CACHE_DIR  Where compiled component code is cached (default $XDG_CACHE_HOME/runware or
                     ~/.cache/runware).

Output:
  stdout  the full JSON response, {{\"data\":[…],\"errors\":[…]}}, merged across retries and polls
          (with --dry-run: the task JSON that would be sent).
  stderr  progress (a spinner while waiting, when stderr is a terminal) and messages.

Exit codes:
  0  success
  1  the response holds errors that retrying cannot fix (partial success included: data and
     errors are both printed)
  2  usage or input error (bad flag, malformed file, missing RUNWARE_API_KEY, invalid request),
     detected before any request is sent
  3  transport failure, deadline, or a transient failure (HTTP 429/5xx, unreadable answer)
     still failing after the retries; also a failure of the component itself",
        spec::DEFAULT_BASE_URL
    )
}

/// `--help` texts that state a default or a range, formatted from `runware-spec` (the numbers'
/// one home) so the help says what the component enforces.
mod help {
    use runware_host::spec::{self, Bounds};

    fn range<T: std::fmt::Display>(b: Bounds<T>) -> String {
        format!("{} to {}", b.min, b.max)
    }

    pub fn max_retries() -> String {
        format!(
            "Retries after the first attempt, for retryable failures only (default {})",
            spec::DEFAULT_MAX_RETRIES
        )
    }
    pub fn timeout() -> String {
        format!(
            "Total deadline of the command in seconds, retries, backoff and polling included \
             (default {})",
            spec::DEFAULT_DEADLINE_MS / 1000
        )
    }
    pub fn limit() -> String {
        format!(
            "Results per page, {} (default {})",
            range(spec::SEARCH_LIMIT),
            spec::SEARCH_DEFAULT_LIMIT
        )
    }
    pub fn prompt(what: &str) -> String {
        format!("{what}, {} characters", range(spec::PROMPT_CHARS))
    }
    pub fn model() -> String {
        format!("Model AIR (default {})", spec::DEFAULT_MODEL)
    }
    pub fn size(what: &str) -> String {
        format!(
            "{what} in pixels, {} in multiples of {} (default {})",
            range(spec::SIZE),
            spec::SIZE_STEP,
            spec::DEFAULT_SIZE
        )
    }
    pub fn steps() -> String {
        format!("Inference steps, {}", range(spec::STEPS))
    }
    pub fn cfg_scale() -> String {
        format!("Classifier-free guidance scale, {}", range(spec::CFG_SCALE))
    }
    pub fn seed() -> String {
        format!("Seed, {}", range(spec::SEED))
    }
    pub fn number_results() -> String {
        format!(
            "Images to generate, {} (default {})",
            range(spec::NUMBER_RESULTS),
            spec::DEFAULT_NUMBER_RESULTS
        )
    }
    pub fn clip_skip() -> String {
        format!("CLIP layers to skip, {}", range(spec::CLIP_SKIP))
    }
    pub fn output_quality() -> String {
        format!("JPEG/WEBP quality, {}", range(spec::OUTPUT_QUALITY))
    }
}

/// The Runware image-generation API from the command line, through a sandboxed WebAssembly
/// client component.
#[derive(Debug, Parser)]
#[command(name = "runware", version, after_help = after_help())]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Runware REST endpoint.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "RUNWARE_BASE_URL",
        default_value = spec::DEFAULT_BASE_URL
    )]
    pub base_url: String,
    /// Start the Runware emulator in-process on 127.0.0.1 and use it (no key needed; overrides
    /// --base-url).
    #[arg(long, global = true)]
    pub emulator: bool,
    /// Retries after the first attempt (`--max-retries`).
    #[arg(long, global = true, value_name = "N", help = help::max_retries())]
    pub max_retries: Option<u32>,
    /// Total deadline of the command (`--timeout`).
    #[arg(long, global = true, value_name = "SECS", value_parser = parse_secs, help = help::timeout())]
    pub timeout: Option<Duration>,
    /// One line per attempt on stderr (taskUUID, HTTP status, chosen delay; never the key).
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// Run this component file instead of the embedded one.
    #[arg(long, global = true, value_name = "PATH")]
    pub component: Option<PathBuf>,
    /// Also allow the component to reach this destination (`host`, `host:port` or
    /// `scheme://host[:port]`); repeatable. The base URL's origin (and im.runware.ai for the
    /// real API) is always allowed; everything else is refused.
    #[arg(long = "allow-host", global = true, value_name = "AUTHORITY")]
    pub allow_hosts: Vec<String>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Search the model catalog (`modelSearch`).
    ModelSearch(ModelSearchArgs),
    /// Generate images from a prompt (`imageInference`).
    TextToImage(TextToImageArgs),
    /// Send a JSON file of tasks as they are (`-` reads stdin).
    Raw(RawArgs),
    /// Ask for the state of an earlier task (`getResponse`).
    Poll(PollArgs),
    /// Serve the Runware emulator until Ctrl-C.
    Emulate(EmulateArgs),
}

/// `runware model-search`.
#[derive(Debug, Args)]
pub struct ModelSearchArgs {
    /// Free text matched against names, AIRs, versions and tags.
    #[arg(long, value_name = "Q")]
    pub search: String,
    /// Results per page (`--limit`).
    #[arg(long, value_name = "N", help = help::limit())]
    pub limit: Option<u32>,
    /// Results to skip (default 0).
    #[arg(long, value_name = "N")]
    pub offset: Option<u32>,
    /// `checkpoint`, `lora`, `lycoris`, `controlnet`, `vae` or `embeddings`.
    #[arg(long, value_name = "C")]
    pub category: Option<String>,
    /// Architecture, such as `flux1d`, `sdxl` or `sd1x`.
    #[arg(long, value_name = "A")]
    pub architecture: Option<String>,
    /// Models having any of these tags.
    #[arg(long, value_name = "a,b", value_delimiter = ',')]
    pub tags: Vec<String>,
}

/// `--output-type`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputTypeArg {
    /// A URL to download the image from.
    Url,
    /// A data: URI.
    DataUri,
    /// Plain base64.
    Base64Data,
}

/// `--output-format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormatArg {
    /// JPEG.
    Jpg,
    /// PNG.
    Png,
    /// WEBP.
    Webp,
}

impl From<OutputTypeArg> for OutputType {
    fn from(t: OutputTypeArg) -> Self {
        match t {
            OutputTypeArg::Url => OutputType::Url,
            OutputTypeArg::DataUri => OutputType::DataUri,
            OutputTypeArg::Base64Data => OutputType::Base64Data,
        }
    }
}

impl From<OutputFormatArg> for OutputFormat {
    fn from(f: OutputFormatArg) -> Self {
        match f {
            OutputFormatArg::Jpg => OutputFormat::Jpg,
            OutputFormatArg::Png => OutputFormat::Png,
            OutputFormatArg::Webp => OutputFormat::Webp,
        }
    }
}

/// `runware text-to-image`.
#[derive(Debug, Args)]
pub struct TextToImageArgs {
    /// What to draw (`--prompt`).
    #[arg(long, value_name = "P", help = help::prompt("What to draw"))]
    pub prompt: String,
    /// What to avoid (`--negative-prompt`).
    #[arg(long, value_name = "P", help = help::prompt("What to avoid"))]
    pub negative_prompt: Option<String>,
    /// Model AIR (`--model`).
    #[arg(long, value_name = "AIR", help = help::model())]
    pub model: Option<String>,
    /// Width in pixels (`--width`).
    #[arg(long, help = help::size("Width"))]
    pub width: Option<u32>,
    /// Height in pixels (`--height`).
    #[arg(long, help = help::size("Height"))]
    pub height: Option<u32>,
    /// Inference steps (`--steps`).
    #[arg(long, help = help::steps())]
    pub steps: Option<u32>,
    /// Classifier-free guidance scale (`--cfg-scale`).
    #[arg(long, help = help::cfg_scale())]
    pub cfg_scale: Option<f32>,
    /// Seed (`--seed`).
    #[arg(long, help = help::seed())]
    pub seed: Option<u64>,
    /// CLIP layers to skip (`--clip-skip`).
    #[arg(long, value_name = "N", help = help::clip_skip())]
    pub clip_skip: Option<u32>,
    /// Scheduler name, such as "Euler a".
    #[arg(long)]
    pub scheduler: Option<String>,
    /// Images to generate (`--number-results`).
    #[arg(long, value_name = "N", help = help::number_results())]
    pub number_results: Option<u32>,
    /// How images are returned (default url).
    #[arg(long, value_enum)]
    pub output_type: Option<OutputTypeArg>,
    /// Image file format (default jpg).
    #[arg(long, value_enum)]
    pub output_format: Option<OutputFormatArg>,
    /// JPEG/WEBP quality (`--output-quality`).
    #[arg(long, value_name = "Q", help = help::output_quality())]
    pub output_quality: Option<u32>,
    /// Ask for the cost of each image.
    #[arg(long)]
    pub include_cost: bool,
    /// Async delivery: the task is acknowledged at once, then polled until done.
    #[arg(long = "async")]
    pub async_delivery: bool,
    /// Print the task JSON that would be sent, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Save each image to DIR as `<imageUUID>.<ext>` (URLs are downloaded through the component).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A JSON object merged into the task, for parameters without a flag.
    #[arg(long, value_name = "JSON")]
    pub extra_json: Option<String>,
}

/// `runware raw`.
#[derive(Debug, Args)]
pub struct RawArgs {
    /// A JSON array of tasks, or one task object; `-` reads stdin. Tasks without a taskUUID
    /// get one. The key comes from RUNWARE_API_KEY only: an `authentication` task or an
    /// `apiKey` field is refused.
    #[arg(value_name = "FILE")]
    pub file: String,
}

/// `runware poll`.
#[derive(Debug, Args)]
pub struct PollArgs {
    /// The taskUUID of an earlier task.
    #[arg(value_name = "TASK_UUID")]
    pub task_uuid: String,
    /// Poll until the task succeeded or failed (or the deadline passed).
    #[arg(long)]
    pub wait: bool,
    /// With --wait: how many results mean done (default 1).
    #[arg(long, value_name = "N", requires = "wait")]
    pub expected_results: Option<u32>,
}

/// `runware emulate`.
#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// The emulator's own flags, as `runware-emulator` takes them.
    #[command(flatten)]
    pub serve: runware_emulator::ServeArgs,
}

/// `--timeout`: seconds (fractions allowed), more than 0 and at most a day.
pub fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(format!(
            "`{s}` must be more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}
