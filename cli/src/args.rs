//! The command line: every command and flag (`clap`), and the help text, which documents the
//! environment, the output streams and the exit codes.
//!
//! Only parsing lives here (clap's own usage errors exit 2). The checks clap cannot make, done
//! before anything is sent and also exiting 2, are elsewhere: the task file in
//! [`crate::raw`], `--extra-json` in [`crate::commands`], the key in `main.rs`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use runware_host::{AudioFormat, OutputFormat, OutputType, VideoFormat, spec};

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
             (default {}; {} for waiting on video, async work and `poll --wait`)",
            spec::DEFAULT_DEADLINE_MS / 1000,
            spec::DEFAULT_POLL_DEADLINE_MS / 1000
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
    pub fn video_model() -> String {
        format!("Model AIR (default {})", spec::DEFAULT_VIDEO_MODEL)
    }
    pub fn video_duration() -> String {
        format!(
            "Length in seconds, {} (default: the model's)",
            range(spec::VIDEO_DURATION)
        )
    }
    pub fn video_size(what: &str) -> String {
        format!(
            "{what} in pixels, {}, even (default: the model's)",
            range(spec::VIDEO_SIZE)
        )
    }
    pub fn fps() -> String {
        format!(
            "Frames per second, {} (default: the model's)",
            range(spec::VIDEO_FPS)
        )
    }
    pub fn video_number_results() -> String {
        format!(
            "Videos to generate, {} (default 1)",
            range(spec::VIDEO_NUMBER_RESULTS)
        )
    }
    pub fn audio_model() -> String {
        format!(
            "Model AIR (default {} for --prompt, {} for --speech)",
            spec::DEFAULT_AUDIO_MODEL,
            spec::DEFAULT_SPEECH_MODEL
        )
    }
    pub fn audio_duration() -> String {
        format!(
            "Length in seconds, {}, with --prompt (default: the model's)",
            range(spec::AUDIO_DURATION)
        )
    }
    pub fn speech() -> String {
        format!(
            "Text to speak, {} characters (instead of --prompt)",
            range(spec::SPEECH_CHARS)
        )
    }
    pub fn tool_model(image_default: &str, video_default: &str) -> String {
        format!("Model AIR (default {image_default} for --image, {video_default} for --video)")
    }
    pub fn upscale_factor() -> String {
        format!("Upscale factor, {}", range(spec::UPSCALE_FACTOR))
    }
    pub fn versions() -> String {
        format!(
            "Enhanced versions to return, {} (default {})",
            range(spec::PROMPT_VERSIONS),
            spec::DEFAULT_PROMPT_VERSIONS
        )
    }
    pub fn max_length() -> String {
        format!(
            "Longest enhanced prompt in characters, {} (default {})",
            range(spec::PROMPT_MAX_LENGTH),
            spec::DEFAULT_PROMPT_MAX_LENGTH
        )
    }
    pub fn ttl() -> String {
        format!(
            "Seconds an output URL stays valid, {} or more (default: Runware's)",
            spec::TTL_SECONDS.min
        )
    }
    pub fn input(what: &str) -> String {
        format!(
            "{what}: a local file (inlined up to {} KiB, uploaded above), a URL, a data URI, \
             base64 or a Runware UUID",
            spec::INLINE_INPUT_MAX_BYTES / 1024
        )
    }
    pub fn wait_deadline() -> String {
        format!(
            "Async work is submitted, then polled (1 s, growing x1.5 to 10 s) until every result \
             arrived or --timeout passed (default {} s for the wait), then what arrived is printed \
             and the exit code is 3; --no-wait leaves the job to `runware poll <TASK_UUID> --wait`.",
            spec::DEFAULT_POLL_DEADLINE_MS / 1000
        )
    }
}

/// The Runware generative-media API (images, video, audio, tools, uploads) from the command
/// line, through a sandboxed WebAssembly client component.
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
    /// Make a video from a prompt and optional frame or reference images (`videoInference`,
    /// always async: submitted, then polled with a progress bar).
    Video(VideoArgs),
    /// Make music or sound from a prompt, or speech from text (`audioInference`).
    Audio(AudioArgs),
    /// Upscale an image or a video (`upscale`; a video input runs async).
    #[command(mut_arg("model", |a| a.help(help::tool_model(spec::DEFAULT_UPSCALE_MODEL, spec::DEFAULT_VIDEO_UPSCALE_MODEL))))]
    Upscale(UpscaleArgs),
    /// Remove the background of an image or a video (`removeBackground`; a video input runs
    /// async).
    #[command(mut_arg("model", |a| a.help(help::tool_model(spec::DEFAULT_REMOVE_BACKGROUND_MODEL, spec::DEFAULT_VIDEO_REMOVE_BACKGROUND_MODEL))))]
    RemoveBackground(ToolArgs),
    /// Describe an image or a video in words (`caption`; the text is in the JSON response).
    #[command(mut_arg("model", |a| a.help(help::tool_model(spec::DEFAULT_CAPTION_MODEL, spec::DEFAULT_CAPTION_MODEL))))]
    Caption(CaptionArgs),
    /// Upload a local file so later tasks can use its UUID (`imageUpload` for an image,
    /// `mediaStorage` upload for other media); the UUID also goes to stderr.
    Upload(UploadArgs),
    /// Rewrite a prompt into richer versions (`promptEnhance`).
    EnhancePrompt(EnhancePromptArgs),
    /// Show the account's balance (`accountManagement` getDetails).
    Account,
    /// Ask for the state of an earlier task (`getResponse`), or wait for it and save its outputs.
    Poll(PollArgs),
    /// Run a JSONL file of jobs (typed requests or raw tasks), resumably: every output saved
    /// to DIR with a manifest; rerun the same command after a crash to resume.
    Batch(BatchArgs),
    /// Serve the Runware emulator until Ctrl-C.
    Emulate(EmulateArgs),
    /// Serve an app component (an edge function) over HTTP, with this host as its trusted
    /// runtime: the key stays in this process.
    #[command(long_about = SERVE_ABOUT)]
    Serve(ServeArgs),
}

/// `runware serve --help`: what the command does, and its security model.
const SERVE_ABOUT: &str = "\
Serve an app component (an edge function) over HTTP/1 until Ctrl-C, with this host as its trusted
runtime.

APP.wasm imports runware:client/api@0.1.0 and exports wasi:http/incoming-handler@0.2.x (it may
import other WASI interfaces); `examples/edge` builds one from JavaScript. The Runware client
component embedded in this binary (or --component) is plugged into that import (wac-graph, as
`wac plug` does), and every request gets a fresh instance of the composition, as under
`wasmtime serve`.

Security model:
  - The key (RUNWARE_API_KEY) stays in this process. The app's WASI environment holds
    RUNWARE_BASE_URL (the API's base URL; --base-url) and never the key. The host adds
    `Authorization: Bearer …` only to requests to the API's origin.
  - In the composition, the app's own wasi:http imports and the client component's are one
    import, so every request either of them sends passes the host's policy: only the API's
    origin (and --allow-host destinations) can be reached, anything else is refused
    (HTTP-request-denied); timeouts are clamped and response bodies capped.
  - The app can spend the key through the API (that is its job), but it can never read it.
  - No files, no sockets, no arguments; each instance has the client's memory cap and execution
    limit (--timeout plus 5 s), and lives for one request.";

/// `runware serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The app component: imports runware:client/api@0.1.0, exports
    /// wasi:http/incoming-handler@0.2.x.
    #[arg(value_name = "APP.wasm")]
    pub app: PathBuf,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
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
    #[value(alias = "dataURI")]
    DataUri,
    /// Plain base64.
    #[value(alias = "base64Data")]
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
    /// Save every file the tasks produced (any `…URL`, `…DataURI` or `…Base64Data` field, and
    /// `outputs.files`) to DIR as `<UUID>.<ext>`.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `runware poll`.
#[derive(Debug, Args)]
#[command(after_help = help::wait_deadline())]
pub struct PollArgs {
    /// The taskUUID of an earlier task (printed by `--no-wait`).
    #[arg(value_name = "TASK_UUID")]
    pub task_uuid: String,
    /// Poll until the task succeeded or failed, or --timeout passed (then exit 3).
    #[arg(long)]
    pub wait: bool,
    /// With --wait: how many results mean done (default 1; `--no-wait` prints it as
    /// `expectedResults`).
    #[arg(long, value_name = "N", requires = "wait")]
    pub expected_results: Option<u32>,
    /// Save what the task produced to DIR as `<UUID>.<ext>` (text outputs stay in the JSON).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The flags every typed task command takes: what Runware adds to any task, the escape hatch,
/// and the dry run.
#[derive(Debug, Args)]
pub struct TaskFlags {
    /// Ask for each result's cost (`includeCost`).
    #[arg(long)]
    pub include_cost: bool,
    /// Runware also POSTs each result, as JSON, to this URL (`webhookURL`).
    #[arg(long = "webhook", value_name = "URL")]
    pub webhook_url: Option<String>,
    /// Seconds an output URL stays valid (`ttl`).
    #[arg(long, value_name = "SECS", help = help::ttl())]
    pub ttl: Option<u32>,
    /// Runware PUTs each output's bytes to this URL (`uploadEndpoint`).
    #[arg(long, value_name = "URL")]
    pub upload_endpoint: Option<String>,
    /// A JSON object merged into the task, for parameters without a flag.
    #[arg(long, value_name = "JSON")]
    pub extra_json: Option<String>,
    /// Print the task JSON that would be sent, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The flags of a command whose work may take a while: where to save it, and whether to wait.
#[derive(Debug, Args)]
pub struct JobFlags {
    /// Save every output to DIR as `<UUID>.<ext>` (URLs are downloaded through the component;
    /// text outputs stay in the JSON).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Submit and print `{"taskUUID","taskType","expectedResults"}` at once, without waiting;
    /// `runware poll <taskUUID> --wait --out DIR` picks the work up later.
    #[arg(long, conflicts_with = "out")]
    pub no_wait: bool,
}

/// `--format` of a video.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VideoFormatArg {
    /// MP4 (H.264), Runware's default.
    Mp4,
    /// WEBM.
    Webm,
    /// QuickTime MOV.
    Mov,
}

impl From<VideoFormatArg> for VideoFormat {
    fn from(f: VideoFormatArg) -> Self {
        match f {
            VideoFormatArg::Mp4 => VideoFormat::Mp4,
            VideoFormatArg::Webm => VideoFormat::Webm,
            VideoFormatArg::Mov => VideoFormat::Mov,
        }
    }
}

/// `--format` of an audio.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AudioFormatArg {
    /// MP3, Runware's default.
    Mp3,
    /// WAV (PCM).
    Wav,
    /// FLAC.
    Flac,
    /// OGG.
    Ogg,
}

impl From<AudioFormatArg> for AudioFormat {
    fn from(f: AudioFormatArg) -> Self {
        match f {
            AudioFormatArg::Mp3 => AudioFormat::Mp3,
            AudioFormatArg::Wav => AudioFormat::Wav,
            AudioFormatArg::Flac => AudioFormat::Flac,
            AudioFormatArg::Ogg => AudioFormat::Ogg,
        }
    }
}

/// `runware video`.
#[derive(Debug, Args)]
#[command(after_help = help::wait_deadline())]
pub struct VideoArgs {
    /// What to film (`--prompt`).
    #[arg(long, value_name = "P", help = help::prompt("What to film"))]
    pub prompt: Option<String>,
    /// What to avoid (`--negative-prompt`).
    #[arg(long, value_name = "P", help = help::prompt("What to avoid"))]
    pub negative_prompt: Option<String>,
    /// Model AIR (`--model`).
    #[arg(long, value_name = "AIR", help = help::video_model())]
    pub model: Option<String>,
    /// Length in seconds (`--duration`).
    #[arg(long, value_name = "SECS", help = help::video_duration())]
    pub duration: Option<f32>,
    /// Width in pixels (`--width`).
    #[arg(long, requires = "height", help = help::video_size("Width"))]
    pub width: Option<u32>,
    /// Height in pixels (`--height`).
    #[arg(long, requires = "width", help = help::video_size("Height"))]
    pub height: Option<u32>,
    /// A named resolution such as 720p, for models that take one instead of a size.
    #[arg(long, value_name = "R", conflicts_with_all = ["width", "height"])]
    pub resolution: Option<String>,
    /// Frames per second (`--fps`).
    #[arg(long, value_name = "N", help = help::fps())]
    pub fps: Option<u32>,
    /// Seed (`--seed`).
    #[arg(long, help = help::seed())]
    pub seed: Option<u64>,
    /// Videos to generate (`--number-results`).
    #[arg(long, value_name = "N", help = help::video_number_results())]
    pub number_results: Option<u32>,
    /// File format (default: Runware's, mp4).
    #[arg(long, value_enum)]
    pub format: Option<VideoFormatArg>,
    /// Frame images (`--image`; the first pins the first frame, the second the last).
    #[arg(long = "image", value_name = "FILE|URL|UUID", help = help::input("A frame image (repeatable; the first pins the first frame, the second the last)"))]
    pub images: Vec<String>,
    /// Reference images (`--reference`).
    #[arg(long = "reference", value_name = "FILE|URL|UUID", help = help::input("A reference image (repeatable)"))]
    pub references: Vec<String>,
    /// The flags every task takes.
    #[command(flatten)]
    pub task: TaskFlags,
    /// Saving and waiting.
    #[command(flatten)]
    pub job: JobFlags,
}

/// `runware audio`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["prompt", "speech"]))]
#[command(after_help = help::wait_deadline())]
pub struct AudioArgs {
    /// What to compose (`--prompt`).
    #[arg(long, value_name = "P", help = help::prompt("What to compose (with --duration)"))]
    pub prompt: Option<String>,
    /// Length in seconds (`--duration`).
    #[arg(long, value_name = "SECS", requires = "prompt", help = help::audio_duration())]
    pub duration: Option<f32>,
    /// Text to speak (`--speech`).
    #[arg(long, value_name = "TEXT", conflicts_with = "prompt", help = help::speech())]
    pub speech: Option<String>,
    /// The voice of --speech, such as Aria (default: the model's).
    #[arg(long, value_name = "V", requires = "speech")]
    pub voice: Option<String>,
    /// Model AIR (`--model`).
    #[arg(long, value_name = "AIR", help = help::audio_model())]
    pub model: Option<String>,
    /// Seed (`--seed`).
    #[arg(long, help = help::seed())]
    pub seed: Option<u64>,
    /// File format (default: Runware's, mp3).
    #[arg(long, value_enum)]
    pub format: Option<AudioFormatArg>,
    /// Async delivery: submitted, then polled with a progress bar.
    #[arg(long = "async")]
    pub async_delivery: bool,
    /// The flags every task takes.
    #[command(flatten)]
    pub task: TaskFlags,
    /// Saving and waiting.
    #[command(flatten)]
    pub job: JobFlags,
}

/// The input of a tool: an image or a video, exactly one.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ToolInput {
    /// The input image (`--image`).
    #[arg(long, value_name = "FILE|URL|UUID", help = help::input("The input image"))]
    pub image: Option<String>,
    /// The input video (`--video`; runs async).
    #[arg(long, value_name = "FILE|URL|UUID", help = help::input("The input video (runs async)"))]
    pub video: Option<String>,
}

/// `runware remove-background`, and what `upscale` and `caption` share.
#[derive(Debug, Args)]
#[command(after_help = help::wait_deadline())]
pub struct ToolArgs {
    /// What to work on.
    #[command(flatten)]
    pub input: ToolInput,
    /// Model AIR (default: the tool's, for an image or a video input).
    #[arg(long, value_name = "AIR")]
    pub model: Option<String>,
    /// An output image's format (default: Runware's).
    #[arg(long, value_enum)]
    pub format: Option<OutputFormatArg>,
    /// Async delivery for an image input (a video input is always async).
    #[arg(long = "async")]
    pub async_delivery: bool,
    /// The flags every task takes.
    #[command(flatten)]
    pub task: TaskFlags,
    /// Saving and waiting.
    #[command(flatten)]
    pub job: JobFlags,
}

/// `runware upscale`.
#[derive(Debug, Args)]
#[command(after_help = help::wait_deadline())]
pub struct UpscaleArgs {
    /// The upscale factor (`--factor`).
    #[arg(long, value_name = "N", help = help::upscale_factor())]
    pub factor: Option<u32>,
    /// The tool's flags.
    #[command(flatten)]
    pub tool: ToolArgs,
}

/// `runware caption`.
#[derive(Debug, Args)]
#[command(after_help = help::wait_deadline())]
pub struct CaptionArgs {
    /// What to ask about the input (`--prompt`).
    #[arg(long, value_name = "P", help = help::prompt("What to ask about the input"))]
    pub prompt: Option<String>,
    /// The tool's flags.
    #[command(flatten)]
    pub tool: ToolArgs,
}

/// `runware upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The file to upload (an image goes through imageUpload, anything else through
    /// mediaStorage); a URL or data URI is sent as it is.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Print the task JSON that would be sent, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `runware enhance-prompt`.
#[derive(Debug, Args)]
pub struct EnhancePromptArgs {
    /// The prompt to improve (`--prompt`).
    #[arg(long, value_name = "P", help = help::prompt("The prompt to improve"))]
    pub prompt: String,
    /// How many versions (`--versions`).
    #[arg(long, value_name = "N", help = help::versions())]
    pub versions: Option<u32>,
    /// Longest enhanced prompt (`--max-length`).
    #[arg(long, value_name = "N", help = help::max_length())]
    pub max_length: Option<u32>,
    /// Submit and print the taskUUID at once, without waiting (see `runware poll`).
    #[arg(long)]
    pub no_wait: bool,
    /// The flags every task takes.
    #[command(flatten)]
    pub task: TaskFlags,
}

/// `runware batch`.
#[derive(Debug, Args)]
#[command(after_help = crate::batch::after_help())]
pub struct BatchArgs {
    /// The jobs, one JSON object a line; `-` reads stdin.
    #[arg(value_name = "FILE.jsonl")]
    pub file: String,
    /// Where the outputs, `journal.jsonl` and `manifest.jsonl` go (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Jobs in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,
    /// Attempts per line before it is left `incomplete` (exit 3; a rerun resumes it).
    #[arg(long, value_name = "N", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
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
