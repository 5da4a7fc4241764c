//! The typed task commands (`video`, `audio`, `upscale`, `remove-background`, `caption`,
//! `upload`, `enhance-prompt`, `account`) and `poll`: their checks before anything starts, the
//! task each one builds, and the hand-over to [`crate::job`], which runs it.
//!
//! Inputs (`--image`, `--video`, `--reference`, `upload FILE`) are checked first, before the
//! emulator, the runtime or the client start: a local path that does not exist is exit 2 naming
//! the flag and the path. Once the client exists they go through
//! [`runware_host::input::resolve_input`]: a local file of at most 1 MiB is inlined as a data
//! URI, a larger one is uploaded and sent by its UUID (a dry run uploads nothing: it shows a
//! placeholder UUID and says so).

use std::path::Path;

use runware_host::input::{
    MediaKind, Resolved, Source, classify, mime_type, read_data_uri, resolve_input,
};
use runware_host::{
    AudioRequest, Client, CommonOptions, Delivery, FrameImage, Job, MediaToolRequest,
    PromptEnhanceRequest, Speech, Task, VideoRequest, spec,
};
use serde_json::json;

use crate::args::{
    AudioArgs, CaptionArgs, Command, EnhancePromptArgs, PollArgs, TaskFlags, ToolArgs, UploadArgs,
    UpscaleArgs, VideoArgs,
};
use crate::commands::check_extra_json;
use crate::exit::{self, Fail, api_failure};
use crate::job::{self, RunPlan};
use crate::progress::Spinner;

/// What a dry run puts where a large local file would be uploaded first.
const DRY_RUN_UPLOAD_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// Whether the command is a dry run (which needs no key: nothing is sent).
pub fn is_dry_run(command: &Command) -> bool {
    match command {
        Command::TextToImage(a) => a.dry_run,
        Command::Video(a) => a.task.dry_run,
        Command::Audio(a) => a.task.dry_run,
        Command::Upscale(a) => a.tool.task.dry_run,
        Command::RemoveBackground(a) => a.task.dry_run,
        Command::Caption(a) => a.tool.task.dry_run,
        Command::Upload(a) => a.dry_run,
        Command::EnhancePrompt(a) => a.task.dry_run,
        _ => false,
    }
}

/// The checks made before anything starts: `--extra-json`, and every input that names a local
/// file must name an existing one. Exit 2 otherwise.
pub fn precheck(command: &Command) -> Result<(), Fail> {
    let (flags, inputs): (Option<&TaskFlags>, Vec<(&str, &String)>) = match command {
        Command::Video(a) => (
            Some(&a.task),
            a.images
                .iter()
                .map(|v| ("--image", v))
                .chain(a.references.iter().map(|v| ("--reference", v)))
                .collect(),
        ),
        Command::Audio(a) => (Some(&a.task), Vec::new()),
        Command::Upscale(a) => (Some(&a.tool.task), tool_inputs(&a.tool)),
        Command::RemoveBackground(a) => (Some(&a.task), tool_inputs(a)),
        Command::Caption(a) => (Some(&a.tool.task), tool_inputs(&a.tool)),
        Command::EnhancePrompt(a) => (Some(&a.task), Vec::new()),
        Command::Upload(a) => (None, vec![("upload FILE", &a.file)]),
        _ => (None, Vec::new()),
    };
    if let Some(f) = flags {
        check_extra_json(f.extra_json.as_ref())?;
    }
    for (flag, value) in inputs {
        check_input(flag, value)?;
    }
    Ok(())
}

fn tool_inputs(a: &ToolArgs) -> Vec<(&'static str, &String)> {
    let mut v = Vec::new();
    if let Some(i) = &a.input.image {
        v.push(("--image", i));
    }
    if let Some(i) = &a.input.video {
        v.push(("--video", i));
    }
    v
}

/// An input must be a URL, a data URI, a UUID, base64, or an existing file (the library's
/// rule, [`classify`]): exit 2 naming the flag and the path otherwise, before anything is sent.
pub fn check_input(flag: &str, value: &str) -> Result<(), Fail> {
    classify(value)
        .map(drop)
        .map_err(|why| Fail::usage(format!("{flag}: {why}")))
}

/// What to do with a local file too large to inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// Upload it first and send its UUID (a command that runs).
    Send,
    /// Show a placeholder UUID and upload nothing (`--dry-run`).
    DryRun,
    /// Refuse it (a `batch` line: validating the file must send nothing, and an upload made
    /// then could not be journalled as the line's one paid task).
    NoUpload,
}

/// Turns inputs into what a task carries, through the client.
struct Inputs<'a> {
    client: &'a Client,
    mode: InputMode,
    spinner: &'a Spinner,
}

impl Inputs<'_> {
    async fn get(&self, flag: &str, value: &str, kind: MediaKind) -> Result<String, Fail> {
        let v = value.trim();
        let large_file = matches!(
            classify(v),
            Ok(Source::File { bytes }) if bytes > spec::INLINE_INPUT_MAX_BYTES
        );
        if self.mode == InputMode::NoUpload && large_file {
            return Err(Fail::usage(format!(
                "{flag} {v}: over {} KiB, so it would be uploaded, and a batch line uploads \
                 nothing: upload it first (`runware upload {v}`) and give its UUID",
                spec::INLINE_INPUT_MAX_BYTES / 1024
            )));
        }
        if self.mode == InputMode::DryRun && large_file {
            self.spinner.println(&format!(
                "runware: dry run: {flag} {v} is over {} KiB and would be uploaded first; \
                 shown as {DRY_RUN_UPLOAD_UUID}",
                spec::INLINE_INPUT_MAX_BYTES / 1024
            ));
            return Ok(DRY_RUN_UPLOAD_UUID.to_string());
        }
        let resolved = resolve_input(self.client, v, kind, flag)
            .await
            .map_err(|e| {
                let f = api_failure(e);
                if f.message.starts_with(flag) {
                    f
                } else {
                    Fail::with_code(f.code, format!("{flag} {v}: {}", f.message))
                }
            })?;
        if let Resolved::Uploaded { uuid, bytes } = &resolved {
            self.spinner.println(&format!(
                "runware: {flag} {v}: uploaded ({bytes} bytes) as {uuid}"
            ));
        }
        Ok(resolved.value().to_string())
    }
}

fn common(f: &TaskFlags) -> CommonOptions {
    CommonOptions {
        include_cost: f.include_cost.then_some(true),
        webhook_url: f.webhook_url.clone(),
        ttl: f.ttl,
        upload_endpoint: f.upload_endpoint.clone(),
    }
}

fn plan(f: &TaskFlags, deadline: std::time::Duration) -> RunPlan {
    RunPlan {
        dry_run: f.dry_run,
        deadline,
        ..RunPlan::default()
    }
}

/// A typed task command's task, and how the command ends once it is built.
#[derive(Debug)]
pub struct Built {
    /// The task, as the component takes it.
    pub task: Task,
    /// What the command does with it (dry run, wait, save).
    pub plan: RunPlan,
}

/// Builds the task of a typed task command (`video`, `audio`, `upscale`, `remove-background`,
/// `caption`, `upload`, `enhance-prompt`) without sending it: its inputs resolved as `mode`
/// says (`None`: upload large files, or show a placeholder with `--dry-run`). `Ok(None)` for a
/// command that is not one of them. `runware batch` builds its typed lines here, so a batch
/// line means exactly what the same command line means.
pub async fn build(
    client: &Client,
    command: Command,
    spinner: &Spinner,
    deadline: std::time::Duration,
    mode: Option<InputMode>,
) -> Result<Option<Built>, Fail> {
    let mode_of = |dry_run: bool| {
        mode.unwrap_or(if dry_run {
            InputMode::DryRun
        } else {
            InputMode::Send
        })
    };
    let built = match command {
        Command::Video(a) => {
            let mode = mode_of(a.task.dry_run);
            video(client, a, spinner, deadline, mode).await?
        }
        Command::Audio(a) => audio(a, deadline)?,
        Command::Upscale(UpscaleArgs { factor, tool }) => {
            let extra = ToolExtra {
                factor,
                ..ToolExtra::default()
            };
            let mode = mode_of(tool.task.dry_run);
            tool_task(client, Tool::Upscale, tool, extra, spinner, deadline, mode).await?
        }
        Command::RemoveBackground(tool) => {
            let mode = mode_of(tool.task.dry_run);
            let extra = ToolExtra::default();
            tool_task(
                client,
                Tool::RemoveBackground,
                tool,
                extra,
                spinner,
                deadline,
                mode,
            )
            .await?
        }
        Command::Caption(CaptionArgs { prompt, tool }) => {
            let extra = ToolExtra {
                prompt,
                ..ToolExtra::default()
            };
            let mode = mode_of(tool.task.dry_run);
            tool_task(client, Tool::Caption, tool, extra, spinner, deadline, mode).await?
        }
        Command::Upload(a) => Built {
            task: upload_task(&a).await?,
            plan: RunPlan {
                dry_run: a.dry_run,
                deadline,
                ..RunPlan::default()
            },
        },
        Command::EnhancePrompt(a) => enhance_prompt(a, deadline)?,
        _ => return Ok(None),
    };
    Ok(Some(built))
}

/// Runs one of the typed task commands (or `poll`); `deadline` is how long waiting may take.
pub async fn run_command(
    client: &Client,
    command: Command,
    spinner: &Spinner,
    deadline: std::time::Duration,
) -> Result<u8, Fail> {
    match command {
        Command::Upload(a) => upload(client, a, spinner).await,
        Command::Account => account(client).await,
        Command::Poll(a) => poll(client, a, spinner, deadline).await,
        other => match build(client, other, spinner, deadline, None).await? {
            Some(Built { task, plan }) => job::execute(client, &task, &plan, spinner).await,
            None => Err(Fail::usage("not a task command")),
        },
    }
}

async fn video(
    client: &Client,
    a: VideoArgs,
    spinner: &Spinner,
    deadline: std::time::Duration,
    mode: InputMode,
) -> Result<Built, Fail> {
    let inputs = Inputs {
        client,
        mode,
        spinner,
    };
    let mut frame_images = Vec::new();
    for (i, v) in a.images.iter().enumerate() {
        frame_images.push(FrameImage {
            image: inputs.get("--image", v, MediaKind::Image).await?,
            frame: match i {
                0 => Some("first".to_string()),
                1 => Some("last".to_string()),
                _ => None,
            },
        });
    }
    let mut reference_images = Vec::new();
    for v in &a.references {
        reference_images.push(inputs.get("--reference", v, MediaKind::Image).await?);
    }
    let task = Task::Video(VideoRequest {
        positive_prompt: a.prompt,
        negative_prompt: a.negative_prompt,
        model: a.model,
        duration: a.duration,
        width: a.width,
        height: a.height,
        resolution: a.resolution,
        fps: a.fps,
        seed: a.seed,
        number_results: a.number_results,
        frame_images,
        reference_images,
        output_format: a.format.map(Into::into),
        common: common(&a.task),
        extra_json: check_extra_json(a.task.extra_json.as_ref())?,
    });
    let plan = RunPlan {
        no_wait: a.job.no_wait,
        // Video is async only.
        poll: true,
        out: a.job.out,
        format_ext: a
            .format
            .map(|f| runware_host::VideoFormat::from(f).extension()),
        ..plan(&a.task, deadline)
    };
    Ok(Built { task, plan })
}

fn audio(a: AudioArgs, deadline: std::time::Duration) -> Result<Built, Fail> {
    let task = Task::Audio(AudioRequest {
        positive_prompt: a.prompt,
        duration: a.duration,
        speech: a.speech.map(|text| Speech {
            text,
            voice: a.voice,
        }),
        model: a.model,
        seed: a.seed,
        output_format: a.format.map(Into::into),
        output_type: None,
        delivery: a.async_delivery.then_some(Delivery::Async),
        common: common(&a.task),
        extra_json: check_extra_json(a.task.extra_json.as_ref())?,
    });
    let plan = RunPlan {
        no_wait: a.job.no_wait,
        poll: a.async_delivery,
        out: a.job.out,
        format_ext: a
            .format
            .map(|f| runware_host::AudioFormat::from(f).extension()),
        ..plan(&a.task, deadline)
    };
    Ok(Built { task, plan })
}

/// Which tool.
#[derive(Debug, Clone, Copy)]
enum Tool {
    Upscale,
    RemoveBackground,
    Caption,
}

/// The flags only one tool takes.
#[derive(Debug, Default)]
struct ToolExtra {
    factor: Option<u32>,
    prompt: Option<String>,
}

async fn tool_task(
    client: &Client,
    tool: Tool,
    a: ToolArgs,
    extra: ToolExtra,
    spinner: &Spinner,
    deadline: std::time::Duration,
    mode: InputMode,
) -> Result<Built, Fail> {
    let inputs = Inputs {
        client,
        mode,
        spinner,
    };
    let image = match &a.input.image {
        Some(v) => Some(inputs.get("--image", v, MediaKind::Image).await?),
        None => None,
    };
    let video = match &a.input.video {
        Some(v) => Some(inputs.get("--video", v, MediaKind::Media).await?),
        None => None,
    };
    // A video input is async only (Runware's one delivery for video).
    let is_async = a.async_delivery || video.is_some();
    let request = MediaToolRequest {
        image,
        video,
        model: a.model,
        upscale_factor: extra.factor,
        prompt: extra.prompt,
        output_type: None,
        output_format: a.format.map(Into::into),
        delivery: is_async.then_some(Delivery::Async),
        common: common(&a.task),
        extra_json: check_extra_json(a.task.extra_json.as_ref())?,
    };
    let task = match tool {
        Tool::Upscale => Task::Upscale(request),
        Tool::RemoveBackground => Task::RemoveBackground(request),
        Tool::Caption => Task::Caption(request),
    };
    let plan = RunPlan {
        no_wait: a.job.no_wait,
        poll: is_async,
        out: a.job.out,
        format_ext: a
            .format
            .map(|f| runware_host::OutputFormat::from(f).extension()),
        ..plan(&a.task, deadline)
    };
    Ok(Built { task, plan })
}

fn enhance_prompt(a: EnhancePromptArgs, deadline: std::time::Duration) -> Result<Built, Fail> {
    let task = Task::PromptEnhance(PromptEnhanceRequest {
        prompt: a.prompt,
        versions: a.versions,
        max_length: a.max_length,
        common: common(&a.task),
        extra_json: check_extra_json(a.task.extra_json.as_ref())?,
    });
    let plan = RunPlan {
        no_wait: a.no_wait,
        ..plan(&a.task, deadline)
    };
    Ok(Built { task, plan })
}

/// The task of `runware upload FILE`: an image through `imageUpload`, anything else through
/// `mediaStorage`.
async fn upload_task(a: &UploadArgs) -> Result<Task, Fail> {
    let v = a.file.trim();
    let (data, mime) = match classify(v) {
        Ok(Source::File { .. }) => {
            let (uri, mime, _) = read_data_uri(v)
                .await
                .map_err(|why| Fail::usage(format!("upload: {why}")))?;
            (uri, mime.to_string())
        }
        _ => {
            let mime = if v.to_ascii_lowercase().starts_with("data:") {
                v.get(5..)
                    .and_then(|r| r.split([';', ',']).next())
                    .unwrap_or_default()
                    .to_string()
            } else {
                mime_type(Path::new(v.split(['?', '#']).next().unwrap_or(v)), &[]).to_string()
            };
            (v.to_string(), mime)
        }
    };
    Ok(if mime.starts_with("image/") {
        Task::ImageUpload(data)
    } else {
        Task::MediaUpload(data)
    })
}

/// `runware upload FILE`: the JSON on stdout, the UUID on stderr.
async fn upload(client: &Client, a: UploadArgs, spinner: &Spinner) -> Result<u8, Fail> {
    let task = upload_task(&a).await?;
    let v = a.file.trim();
    if a.dry_run {
        let json = client.prepare(&task).await.map_err(api_failure)?;
        println!("{json}");
        return Ok(exit::OK);
    }
    spinner.message("uploading");
    let outcome = client.run(&task).await.map_err(api_failure)?;
    println!("{}", outcome.response_json);
    match outcome.outputs.iter().find_map(|o| o.uuid.clone()) {
        Some(uuid) => spinner.println(&format!("runware: uploaded {v} as {uuid}")),
        None => spinner.println(&format!(
            "runware: uploaded {v} (the answer carries no UUID)"
        )),
    }
    Ok(exit::OK)
}

/// `runware account`: the `getDetails` item as `{"data":[item],"errors":[]}`; the balance on
/// stderr.
async fn account(client: &Client) -> Result<u8, Fail> {
    let account = client.account().await.map_err(api_failure)?;
    let item: serde_json::Value = serde_json::from_str(&account.json).unwrap_or_else(|_| json!({}));
    println!("{}", json!({ "data": [item], "errors": [] }));
    if let Some(balance) = account.balance {
        eprintln!(
            "runware: balance {balance:.2} {}",
            account.currency.as_deref().unwrap_or("USD")
        );
    }
    Ok(exit::OK)
}

/// `runware poll`: one `getResponse`, or (`--wait`) the poll loop; `--out` saves the outputs.
async fn poll(
    client: &Client,
    a: PollArgs,
    spinner: &Spinner,
    deadline: std::time::Duration,
) -> Result<u8, Fail> {
    let job = Job {
        expected_results: a.expected_results,
        ..Job::from_task_uuid(a.task_uuid)
    };
    let plan = RunPlan {
        out: a.out,
        deadline,
        ..RunPlan::default()
    };
    if a.wait {
        job::wait(client, &job, &plan, spinner).await
    } else {
        job::poll_once(client, &job, &plan, spinner).await
    }
}
