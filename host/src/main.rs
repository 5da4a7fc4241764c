//! `runware`: the Runware API from the command line, through the sandboxed client component.
//!
//! stdout carries only JSON (the merged Runware response, or the task JSON of a dry run);
//! progress and messages go to stderr. See `runware --help` for the exit codes.

use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use runware_host::{
    API_KEY_ENV, ApiKey, Client, ClientConfig, Delivery, Error, ErrorDetail, ErrorKind, Image,
    ImageRequest, ModelSearchRequest, OutputFormat, OutputType, RunResult, Runtime, RuntimeConfig,
};

const AFTER_HELP: &str = "\
Environment:
  RUNWARE_API_KEY    Your Runware API key (required unless --emulator, `emulate` or --dry-run).
                     The host adds it as `Authorization: Bearer …`; the component never sees it,
                     and it is never printed.
  RUNWARE_BASE_URL   The REST endpoint (default https://api.runware.ai/v1); same as --base-url.
  RUNWARE_CACHE_DIR  Where compiled component code is cached (default $XDG_CACHE_HOME/runware or
                     ~/.cache/runware).

Output:
  stdout  the full JSON response, {\"data\":[…],\"errors\":[…]}, merged across retries and polls
          (with --dry-run: the task JSON that would be sent).
  stderr  progress (a spinner while waiting, when stderr is a terminal) and messages.

Exit codes:
  0  success
  1  the response holds errors that retrying cannot fix (partial success included: data and
     errors are both printed)
  2  usage or input error (bad flag, malformed file, missing RUNWARE_API_KEY, invalid request),
     detected before any request is sent
  3  transport failure, deadline, or a transient failure (HTTP 429/5xx, unreadable answer)
     still failing after the retries; also a failure of the component itself";

/// The Runware image-generation API from the command line, through a sandboxed WebAssembly
/// client component.
#[derive(Debug, Parser)]
#[command(name = "runware", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// Runware REST endpoint.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "RUNWARE_BASE_URL",
        default_value = runware_host::DEFAULT_BASE_URL
    )]
    base_url: String,
    /// Start the Runware emulator in-process on 127.0.0.1 and use it (no key needed; overrides
    /// --base-url).
    #[arg(long, global = true)]
    emulator: bool,
    /// Retries after the first attempt, for retryable failures only (default 3).
    #[arg(long, global = true, value_name = "N")]
    max_retries: Option<u32>,
    /// Total deadline of the command in seconds, retries, backoff and polling included
    /// (default 300).
    #[arg(long, global = true, value_name = "SECS", value_parser = parse_secs)]
    timeout: Option<Duration>,
    /// One line per attempt on stderr (taskUUID, HTTP status, chosen delay; never the key).
    #[arg(long, short, global = true)]
    verbose: bool,
    /// Run this component file instead of the embedded one.
    #[arg(long, global = true, value_name = "PATH")]
    component: Option<PathBuf>,
    /// Also allow the component to reach this destination (`host`, `host:port` or
    /// `scheme://host[:port]`); repeatable. The base URL's origin (and im.runware.ai for the
    /// real API) is always allowed; everything else is refused.
    #[arg(long = "allow-host", global = true, value_name = "AUTHORITY")]
    allow_hosts: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
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

#[derive(Debug, Args)]
struct ModelSearchArgs {
    /// Free text matched against names, AIRs, versions and tags.
    #[arg(long, value_name = "Q")]
    search: String,
    /// Results per page, 1 to 100 (default 20).
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
    /// Results to skip (default 0).
    #[arg(long, value_name = "N")]
    offset: Option<u32>,
    /// `checkpoint`, `lora`, `lycoris`, `controlnet`, `vae` or `embeddings`.
    #[arg(long, value_name = "C")]
    category: Option<String>,
    /// Architecture, such as `flux1d`, `sdxl` or `sd1x`.
    #[arg(long, value_name = "A")]
    architecture: Option<String>,
    /// Models having any of these tags.
    #[arg(long, value_name = "a,b", value_delimiter = ',')]
    tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutputTypeArg {
    /// A URL to download the image from.
    Url,
    /// A data: URI.
    DataUri,
    /// Plain base64.
    Base64Data,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutputFormatArg {
    /// JPEG.
    Jpg,
    /// PNG.
    Png,
    /// WEBP.
    Webp,
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

#[derive(Debug, Args)]
struct TextToImageArgs {
    /// What to draw, 2 to 3000 characters.
    #[arg(long, value_name = "P")]
    prompt: String,
    /// What to avoid, 2 to 3000 characters.
    #[arg(long, value_name = "P")]
    negative_prompt: Option<String>,
    /// Model AIR (default runware:101@1).
    #[arg(long, value_name = "AIR")]
    model: Option<String>,
    /// Width in pixels, 128 to 2048 in multiples of 64 (default 1024).
    #[arg(long)]
    width: Option<u32>,
    /// Height in pixels, 128 to 2048 in multiples of 64 (default 1024).
    #[arg(long)]
    height: Option<u32>,
    /// Inference steps, 1 to 100.
    #[arg(long)]
    steps: Option<u32>,
    /// Classifier-free guidance scale, 0 to 50.
    #[arg(long)]
    cfg_scale: Option<f32>,
    /// Seed, 1 to 9223372036854775807.
    #[arg(long)]
    seed: Option<u64>,
    /// Scheduler name, such as "Euler a".
    #[arg(long)]
    scheduler: Option<String>,
    /// Images to generate, 1 to 20 (default 1).
    #[arg(long, value_name = "N")]
    number_results: Option<u32>,
    /// How images are returned (default url).
    #[arg(long, value_enum)]
    output_type: Option<OutputTypeArg>,
    /// Image file format (default jpg).
    #[arg(long, value_enum)]
    output_format: Option<OutputFormatArg>,
    /// JPEG/WEBP quality, 20 to 99.
    #[arg(long, value_name = "Q")]
    output_quality: Option<u32>,
    /// Ask for the cost of each image.
    #[arg(long)]
    include_cost: bool,
    /// Async delivery: the task is acknowledged at once, then polled until done.
    #[arg(long = "async")]
    async_delivery: bool,
    /// Print the task JSON that would be sent, and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Save each image to DIR as `<imageUUID>.<ext>` (URLs are downloaded through the component).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// A JSON object merged into the task, for parameters without a flag.
    #[arg(long, value_name = "JSON")]
    extra_json: Option<String>,
}

#[derive(Debug, Args)]
struct RawArgs {
    /// A JSON array of tasks, or one task object; `-` reads stdin. Tasks without a taskUUID
    /// get one. The key comes from RUNWARE_API_KEY only: an `authentication` task or an
    /// `apiKey` field is refused.
    #[arg(value_name = "FILE")]
    file: String,
}

#[derive(Debug, Args)]
struct PollArgs {
    /// The taskUUID of an earlier task.
    #[arg(value_name = "TASK_UUID")]
    task_uuid: String,
    /// Poll until the task succeeded or failed (or the deadline passed).
    #[arg(long)]
    wait: bool,
    /// With --wait: how many results mean done (default 1).
    #[arg(long, value_name = "N", requires = "wait")]
    expected_results: Option<u32>,
}

#[derive(Debug, Args)]
struct EmulateArgs {
    #[command(flatten)]
    serve: runware_emulator::ServeArgs,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
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

/// Exit codes, as documented in `--help`.
mod exit {
    pub const OK: u8 = 0;
    pub const RESPONSE_ERRORS: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const TRANSPORT: u8 = 3;
}

/// A failure that ends the command: the message for stderr and the exit code.
struct Fail {
    code: u8,
    message: String,
}

impl Fail {
    fn usage(message: impl Into<String>) -> Fail {
        Fail {
            code: exit::USAGE,
            message: message.into(),
        }
    }

    fn with_code(code: u8, message: impl Into<String>) -> Fail {
        Fail {
            code,
            message: message.into(),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("runware: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

async fn run(cli: Cli) -> Result<u8, Fail> {
    let Cli { global, command } = cli;
    if let Command::Emulate(args) = command {
        return runware_emulator::serve(args.serve)
            .await
            .map(|()| exit::OK)
            .map_err(|e| Fail::with_code(exit::TRANSPORT, format!("emulator: {e:#}")));
    }

    // 1. Input checks, before anything starts or is sent.
    let dry_run = matches!(&command, Command::TextToImage(a) if a.dry_run);
    let raw_tasks = match &command {
        Command::Raw(a) => Some(read_tasks(&a.file)?),
        _ => None,
    };
    let image_request = match &command {
        Command::TextToImage(a) => Some(image_request(a)?),
        _ => None,
    };
    let api_key = ApiKey::from_env();
    if api_key.is_none() && !global.emulator && !dry_run {
        return Err(Fail::usage(format!(
            "{API_KEY_ENV} is not set: export your Runware API key in {API_KEY_ENV} (or use \
             --emulator to run against the local emulator)"
        )));
    }

    // 2. The emulator, when asked for, with a key only this process knows.
    let emulator = if global.emulator {
        let key = ApiKey::new(random_key());
        let handle = runware_emulator::Emulator::builder()
            .api_key(key.expose())
            .start()
            .await
            .map_err(|e| {
                Fail::with_code(exit::TRANSPORT, format!("cannot start the emulator: {e:#}"))
            })?;
        if global.verbose {
            eprintln!("runware: emulator listening on {}", handle.base_url());
        }
        Some((handle, key))
    } else {
        None
    };
    let (base_url, api_key) = match &emulator {
        Some((handle, key)) => (handle.base_url(), Some(key.clone())),
        None => (global.base_url.clone(), api_key),
    };

    // 3. The runtime (compiled code from the cache when present) and the client.
    let runtime_config = RuntimeConfig {
        component: global.component.clone(),
        ..RuntimeConfig::default()
    };
    let runtime = tokio::task::spawn_blocking(move || Runtime::new(runtime_config))
        .await
        .map_err(|e| Fail::with_code(exit::TRANSPORT, format!("loading the component: {e}")))?
        .map_err(|e| Fail::with_code(exit::TRANSPORT, e.to_string()))?;
    if global.verbose {
        eprintln!(
            "runware: component {} ({})",
            &runtime.component_sha256()[..12.min(runtime.component_sha256().len())],
            if runtime.loaded_from_cache() {
                "compiled code from cache"
            } else {
                "compiled now"
            }
        );
    }
    let config = ClientConfig {
        api_key,
        base_url: Some(base_url),
        max_retries: global.max_retries,
        deadline: global.timeout,
        trace: global.verbose,
        allowed_hosts: global.allow_hosts.clone(),
        // One user per process: the download after a generation reuses the opened instance.
        max_idle_instances: 1,
        ..ClientConfig::default()
    };
    let client = Client::new(&runtime, config).map_err(|e| Fail::usage(e.to_string()))?;

    // 4. The command.
    let spinner = Spinner::start(!global.verbose);
    let result = match command {
        Command::ModelSearch(a) => model_search(&client, a).await,
        Command::TextToImage(a) => {
            let request = image_request.unwrap_or_default();
            text_to_image(&client, a, request, &spinner).await
        }
        Command::Raw(_) => {
            let tasks = raw_tasks.unwrap_or_default();
            finish_run(client.run_tasks(&tasks).await)
        }
        Command::Poll(a) => {
            let r = if a.wait {
                client.wait(&a.task_uuid, a.expected_results).await
            } else {
                client.get_response(&a.task_uuid).await
            };
            finish_run(r)
        }
        Command::Emulate(_) => Ok(exit::OK),
    };
    spinner.stop();
    if let Some((handle, _)) = emulator {
        handle.stop().await;
    }
    result
}

/// Prints a run result; exit 1 when any task failed.
fn finish_run(r: Result<RunResult, Error>) -> Result<u8, Fail> {
    let r = r.map_err(api_failure)?;
    println!("{}", r.response_json);
    if r.has_errors() {
        for t in r.tasks.iter().filter_map(|t| t.error.as_ref()) {
            eprintln!("runware: {t}");
        }
        Ok(exit::RESPONSE_ERRORS)
    } else {
        Ok(exit::OK)
    }
}

/// The exit code of a failed call: 2 for a request found invalid before sending; 3 for
/// transport failures, deadlines, transient failures still failing after the retries (HTTP
/// 5xx, rate limits, unreadable answers) and component failures; 1 for the errors Runware
/// answered that retrying cannot fix.
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Api { kind, detail } => match kind {
            ErrorKind::InvalidRequest if detail.attempts == 0 => exit::USAGE,
            ErrorKind::Transport | ErrorKind::Timeout => exit::TRANSPORT,
            _ if detail.retryable => exit::TRANSPORT,
            _ => exit::RESPONSE_ERRORS,
        },
        _ => exit::TRANSPORT,
    }
}

/// Maps a failed call to its exit code, printing what the response held to stdout (except
/// for input errors, where nothing was sent).
fn api_failure(e: Error) -> Fail {
    let code = exit_code(&e);
    if let Error::Api { detail, .. } = &e
        && code != exit::USAGE
    {
        println!("{}", error_response_json(detail));
    }
    Fail::with_code(code, e.to_string())
}

/// The response received before the failure, or a Runware-shaped `errors` entry for it.
fn error_response_json(d: &ErrorDetail) -> String {
    if let Some(json) = d
        .response_json
        .as_deref()
        .filter(|j| serde_json::from_str::<serde_json::Value>(j).is_ok())
    {
        return json.to_string();
    }
    let mut item = serde_json::Map::new();
    item.insert("code".into(), d.code.clone().into());
    item.insert("message".into(), d.message.clone().into());
    if let Some(u) = &d.task_uuid {
        item.insert("taskUUID".into(), u.clone().into());
    }
    if let Some(t) = &d.task_type {
        item.insert("taskType".into(), t.clone().into());
    }
    if let Some(p) = &d.parameter {
        item.insert("parameter".into(), p.clone().into());
    }
    serde_json::json!({ "data": [], "errors": [item] }).to_string()
}

async fn model_search(client: &Client, a: ModelSearchArgs) -> Result<u8, Fail> {
    let request = ModelSearchRequest {
        search: Some(a.search),
        tags: a
            .tags
            .into_iter()
            .filter(|t| !t.trim().is_empty())
            .collect(),
        category: a.category,
        architecture: a.architecture,
        limit: a.limit,
        offset: a.offset,
        ..ModelSearchRequest::default()
    };
    let r = client.model_search(&request).await.map_err(api_failure)?;
    println!("{}", r.response_json);
    eprintln!("runware: {} of {} models", r.results.len(), r.total_results);
    Ok(exit::OK)
}

fn image_request(a: &TextToImageArgs) -> Result<ImageRequest, Fail> {
    let extra_json = match &a.extra_json {
        Some(text) => {
            let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
                Fail::usage(format!(
                    "--extra-json: not JSON (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ))
            })?;
            if !v.is_object() {
                return Err(Fail::usage("--extra-json: must be a JSON object"));
            }
            if v.get("apiKey").is_some() {
                return Err(Fail::usage(format!(
                    "--extra-json: an `apiKey` field is refused; the key is read from {API_KEY_ENV}"
                )));
            }
            Some(v)
        }
        None => None,
    };
    Ok(ImageRequest {
        positive_prompt: a.prompt.clone(),
        negative_prompt: a.negative_prompt.clone(),
        model: a.model.clone(),
        width: a.width,
        height: a.height,
        steps: a.steps,
        cfg_scale: a.cfg_scale,
        seed: a.seed,
        scheduler: a.scheduler.clone(),
        number_results: a.number_results,
        output_type: a.output_type.map(|t| match t {
            OutputTypeArg::Url => OutputType::Url,
            OutputTypeArg::DataUri => OutputType::DataUri,
            OutputTypeArg::Base64Data => OutputType::Base64Data,
        }),
        output_format: a.output_format.map(Into::into),
        output_quality: a.output_quality,
        include_cost: a.include_cost.then_some(true),
        delivery: a.async_delivery.then_some(Delivery::Async),
        extra_json,
        ..ImageRequest::default()
    })
}

async fn text_to_image(
    client: &Client,
    a: TextToImageArgs,
    request: ImageRequest,
    spinner: &Spinner,
) -> Result<u8, Fail> {
    if a.dry_run {
        let json = client
            .prepare_text_to_image(&request)
            .await
            .map_err(api_failure)?;
        println!("{json}");
        return Ok(exit::OK);
    }
    spinner.message("generating");
    let r = client.text_to_image(&request).await.map_err(api_failure)?;
    println!("{}", r.response_json);
    if let Some(dir) = &a.out {
        spinner.message("saving images");
        std::fs::create_dir_all(dir).map_err(|e| {
            Fail::with_code(
                exit::RESPONSE_ERRORS,
                format!("--out {}: cannot create the directory: {e}", dir.display()),
            )
        })?;
        for image in &r.images {
            let path = save_image(client, dir, image, request.output_format).await?;
            spinner.println(&format!("runware: saved {}", path.display()));
        }
    }
    Ok(exit::OK)
}

/// Writes one image as `<dir>/<imageUUID>.<ext>`.
async fn save_image(
    client: &Client,
    dir: &Path,
    image: &Image,
    format: Option<OutputFormat>,
) -> Result<PathBuf, Fail> {
    let who = format!("image {} (taskUUID {})", image.image_uuid, image.task_uuid);
    let bad = |m: String| Fail::with_code(exit::RESPONSE_ERRORS, format!("{who}: {m}"));
    let (bytes, hinted_ext) = if let Some(b64) = &image.image_base64_data {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| bad(format!("imageBase64Data is not base64: {e}")))?;
        (bytes, None)
    } else if let Some(uri) = &image.image_data_uri {
        let (mime, data) = parse_data_uri(uri)
            .ok_or_else(|| bad("imageDataURI is not a base64 data: URI".to_string()))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| bad(format!("imageDataURI is not base64: {e}")))?;
        (bytes, ext_from_mime(mime))
    } else if let Some(url) = &image.image_url {
        let bytes = client.download(url).await.map_err(|e| {
            let code = exit_code(&e);
            Fail::with_code(code, format!("{who}: download: {e}"))
        })?;
        (bytes, ext_from_url(url))
    } else {
        return Err(bad("the response carries no image data".to_string()));
    };
    let ext = sniff_ext(&bytes)
        .or(hinted_ext)
        .or(format.map(OutputFormat::extension))
        .unwrap_or("jpg");
    let name = safe_file_stem(&image.image_uuid)
        .ok_or_else(|| bad("imageUUID is not usable as a file name".to_string()))?;
    let path = dir.join(format!("{name}.{ext}"));
    std::fs::write(&path, &bytes)
        .map_err(|e| bad(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// `data:<mime>;base64,<data>` → (mime, data).
fn parse_data_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    Some((mime, data))
}

fn ext_from_mime(mime: &str) -> Option<&'static str> {
    match mime.to_ascii_lowercase().as_str() {
        "image/png" => Some("png"),
        "image/jpeg" | "image/jpg" => Some("jpg"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

fn ext_from_url(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next()?;
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    match ext.as_str() {
        "png" => Some("png"),
        "jpg" | "jpeg" => Some("jpg"),
        "webp" => Some("webp"),
        _ => None,
    }
}

/// The format the bytes actually are, from their magic number.
fn sniff_ext(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("jpg")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("webp")
    } else {
        None
    }
}

/// An imageUUID as a file name: letters, digits, `-` and `_` only (a hostile server cannot
/// write outside `--out`).
fn safe_file_stem(uuid: &str) -> Option<&str> {
    let ok = !uuid.is_empty()
        && uuid.len() <= 128
        && uuid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then_some(uuid)
}

/// Reads and checks a `raw` file: JSON, tasks are objects, no key inside.
fn read_tasks(file: &str) -> Result<String, Fail> {
    let (name, text) = if file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Fail::usage(format!("stdin: cannot read: {e}")))?;
        ("stdin".to_string(), s)
    } else {
        let s = std::fs::read_to_string(file)
            .map_err(|e| Fail::usage(format!("{file}: cannot read: {e}")))?;
        (file.to_string(), s)
    };
    check_tasks(&name, &text)?;
    Ok(text)
}

fn check_tasks(name: &str, text: &str) -> Result<(), Fail> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Fail::usage(format!(
            "{name}: not valid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let tasks: Vec<&serde_json::Value> = match &value {
        serde_json::Value::Array(items) => items.iter().collect(),
        serde_json::Value::Object(_) => vec![&value],
        _ => {
            return Err(Fail::usage(format!(
                "{name}: expected a JSON array of tasks or one task object"
            )));
        }
    };
    if tasks.is_empty() {
        return Err(Fail::usage(format!("{name}: the task array is empty")));
    }
    for (i, task) in tasks.iter().enumerate() {
        let Some(obj) = task.as_object() else {
            return Err(Fail::usage(format!(
                "{name}: task {i} is not a JSON object"
            )));
        };
        let label = match obj.get("taskUUID").and_then(|u| u.as_str()) {
            Some(u) => format!("{name}: task {i} (taskUUID {u})"),
            None => format!("{name}: task {i}"),
        };
        if obj.get("taskType").and_then(|t| t.as_str()) == Some("authentication") {
            return Err(Fail::usage(format!(
                "{label} is an `authentication` task: remove it; the key is read from \
                 {API_KEY_ENV} and sent by the host"
            )));
        }
        if contains_api_key(task) {
            return Err(Fail::usage(format!(
                "{label} has an `apiKey` field: remove it; the key is read from {API_KEY_ENV} \
                 and sent by the host (the file's key is never sent)"
            )));
        }
    }
    Ok(())
}

fn contains_api_key(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("apiKey") || contains_api_key(v)),
        serde_json::Value::Array(items) => items.iter().any(contains_api_key),
        _ => false,
    }
}

/// A key for the in-process emulator, known only to this process.
fn random_key() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::from("emu-");
    for i in 0..4u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// A spinner on stderr while waiting, only when stderr is a terminal.
struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    fn start(enabled: bool) -> Spinner {
        if !enabled || !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message("waiting for Runware");
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinner(Some(bar))
    }

    fn message(&self, m: &'static str) {
        if let Some(bar) = &self.0 {
            bar.set_message(m);
        }
    }

    fn println(&self, line: &str) {
        match &self.0 {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn stop(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_checks_refuse_keys_without_echoing_them() {
        let secret = format!("test-{}", 41 + 1);
        let text = format!(r#"[{{"taskType":"modelSearch","search":"x","apiKey":"{secret}"}}]"#);
        let f = check_tasks("f.json", &text)
            .err()
            .map(|f| (f.code, f.message));
        let (code, message) = f.unwrap_or_default();
        assert_eq!(code, exit::USAGE);
        assert!(message.contains("apiKey"), "{message}");
        assert!(message.contains(API_KEY_ENV), "{message}");
        assert!(!message.contains(&secret), "{message}");

        let text = r#"{"taskType":"authentication","apiKey":"x"}"#;
        let message = check_tasks("f.json", text)
            .err()
            .map(|f| f.message)
            .unwrap_or_default();
        assert!(message.contains("authentication"), "{message}");
    }

    #[test]
    fn raw_checks_report_line_and_column() {
        let message = check_tasks("f.json", "[\n  {\"taskType\": }\n]")
            .err()
            .map(|f| f.message)
            .unwrap_or_default();
        assert!(message.contains("line 2, column"), "{message}");
        assert!(check_tasks("f.json", r#"{"taskType":"modelSearch"}"#).is_ok());
        assert!(check_tasks("f.json", "[]").is_err());
        assert!(check_tasks("f.json", "[1]").is_err());
    }

    #[test]
    fn image_names_and_formats() {
        assert_eq!(safe_file_stem("a1b2-c3"), Some("a1b2-c3"));
        assert_eq!(safe_file_stem("../../etc/passwd"), None);
        assert_eq!(safe_file_stem(""), None);
        assert_eq!(
            parse_data_uri("data:image/png;base64,AAAA"),
            Some(("image/png", "AAAA"))
        );
        assert_eq!(parse_data_uri("data:image/png,AAAA"), None);
        assert_eq!(ext_from_url("http://h/images/x.webp?x=1"), Some("webp"));
        assert_eq!(ext_from_url("http://h/images/x"), None);
        assert_eq!(sniff_ext(b"\x89PNG\r\n\x1a\n...."), Some("png"));
        assert_eq!(sniff_ext(&[0xff, 0xd8, 0xff, 0xe0]), Some("jpg"));
        assert_eq!(sniff_ext(b"RIFF\0\0\0\0WEBPVP8 "), Some("webp"));
        assert_eq!(sniff_ext(b"GIF89a"), None);
    }

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
}
