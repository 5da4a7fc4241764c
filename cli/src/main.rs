//! `runware`: the Runware API from the command line, through the sandboxed client component.
//!
//! stdout carries only JSON (the merged Runware response, or the task JSON of a dry run);
//! progress and messages go to stderr. See `runware --help` for the exit codes.
//!
//! This file is the entry and the dispatch: input checks first, then the emulator (with
//! `--emulator`), the runtime and the client, then the command. The parts are in the
//! `runware_cli` library, one concern a module.

use std::process::ExitCode;

use clap::Parser as _;
use runware_cli::args::{Cli, Command};
use runware_cli::commands::{image_request, model_search, text_to_image};
use runware_cli::exit::{self, Fail, finish_run};
use runware_cli::progress::Spinner;
use runware_cli::raw::read_tasks;
use runware_host::{
    API_KEY_ENV, ApiKey, Client, ClientConfig, ClientOptions, Runtime, RuntimeConfig,
};

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

/// Runs one command; the exit code on success, or the failure to report.
async fn run(cli: Cli) -> Result<u8, Fail> {
    let Cli { global, command } = cli;
    if let Command::Emulate(args) = command {
        return runware_emulator::serve(args.serve)
            .await
            .map(|()| exit::OK)
            .map_err(|e| Fail::with_code(exit::TRANSPORT, format!("emulator: {e:#}")));
    }

    // 1. Input checks, before anything starts or is sent.
    let dry_run = runware_cli::tasks::is_dry_run(&command);
    runware_cli::tasks::precheck(&command)?;
    let batch_input = match &command {
        Command::Batch(a) => Some(runware_cli::batch::read(&a.file)?),
        _ => None,
    };
    let raw_tasks = match &command {
        Command::Raw(a) => Some(read_tasks(&a.file)?),
        _ => None,
    };
    let image_request = match &command {
        Command::TextToImage(a) => Some(image_request(a)?),
        _ => None,
    };
    let composed_app = match &command {
        Command::Serve(a) => Some(runware_cli::serve::compose(
            &a.app,
            global.component.as_deref(),
        )?),
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
        Some(runware_cli::emulator::start(global.verbose).await?)
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
        .map_err(|e| Fail::with_code(exit::TRANSPORT, e.report()))?;
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
    // `batch` owns the retries (each taskUUID is journalled before it is sent) and runs many
    // calls at once, so its client retries nothing itself and keeps an instance per worker.
    let batch_workers = match &command {
        Command::Batch(a) => Some(usize::try_from(a.concurrency).unwrap_or(1)),
        _ => None,
    };
    let config = ClientConfig {
        api_key,
        options: ClientOptions {
            base_url: Some(base_url),
            max_retries: if batch_workers.is_some() {
                Some(0)
            } else {
                global.max_retries
            },
            deadline_ms: global.timeout.map(runware_host::millis),
            trace: Some(global.verbose),
            ..ClientOptions::default()
        },
        allowed_hosts: global.allow_hosts.clone(),
        // A batch keeps one opened instance per worker; other commands take the default.
        max_idle_instances: batch_workers.unwrap_or(runware_host::DEFAULT_MAX_IDLE_INSTANCES),
        ..ClientConfig::default()
    };
    // `serve` gives the same policy to the app's server; the other commands to a client.
    let config_for_serve = config.clone();
    let client = Client::new(&runtime, config).map_err(|e| Fail::usage(e.report()))?;

    // 4. The command.
    let serving = matches!(command, Command::Serve(_));
    let spinner = Spinner::start(!global.verbose && batch_workers.is_none() && !serving);
    let result = match command {
        Command::ModelSearch(a) => model_search(&client, a).await,
        Command::TextToImage(a) => {
            let request = image_request.unwrap_or_default();
            text_to_image(&client, a, request, &spinner).await
        }
        Command::Raw(a) => {
            let tasks = raw_tasks.unwrap_or_default();
            let result = client.run_tasks(&tasks).await;
            match (&result, &a.out) {
                (Ok(r), Some(dir)) => {
                    // Saved before the exit code is decided: a partial success keeps its files.
                    let outputs: Vec<_> = r
                        .tasks
                        .iter()
                        .flat_map(|t| {
                            t.data.iter().flat_map(|item| {
                                runware_cli::save::outputs_of_item(item, &t.task_uuid, &t.task_type)
                            })
                        })
                        .collect();
                    match runware_cli::save::save_outputs(&client, dir, &outputs, None, &spinner)
                        .await
                    {
                        Ok(_) => finish_run(result),
                        Err(f) => {
                            // The response still goes to stdout before the save failure is reported.
                            let _ = finish_run(result);
                            Err(f)
                        }
                    }
                }
                _ => finish_run(result),
            }
        }
        Command::Batch(a) => match batch_input {
            Some(input) => runware_cli::batch::run(&client, &a, input).await,
            None => Err(Fail::usage("batch: no input")),
        },
        Command::Emulate(_) => Ok(exit::OK),
        Command::Serve(a) => {
            let composed = composed_app.unwrap_or_default();
            runware_cli::serve::run(&runtime, config_for_serve, composed, &a).await
        }
        // The typed tasks and `poll`: waiting is bounded by --timeout (20 min by default).
        other => {
            let deadline = runware_cli::job::default_deadline(global.timeout);
            runware_cli::tasks::run_command(&client, other, &spinner, deadline).await
        }
    };
    spinner.stop();
    if let Some((handle, _)) = emulator {
        handle.stop().await;
    }
    result
}
