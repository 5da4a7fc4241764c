//! The task engine shared by REST and WebSocket: keys, the per-key task registry (conflicts,
//! async results, getResponse/getTaskDetails), the image store, the request log and the
//! fault rules.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::faults::{self, RuleState};
use crate::render::{self, Format, Transform};
use crate::validate::{self, ApiError, Range, TaskCtx};
use crate::{Fault, FaultRule, ImageMode, LoggedRequest, catalog};

/// The request log keeps at most this many entries (the oldest tenth is dropped when full), so
/// that soak tests do not grow memory without bound.
const MAX_LOG: usize = 100_000;

/// Settings fixed at start-up.
pub(crate) struct Config {
    pub keys: Vec<String>,
    pub image_mode: ImageMode,
    pub body_limit: usize,
    pub addr: SocketAddr,
}

/// An image the emulator holds (generated, uploaded or transformed).
#[derive(Clone)]
pub(crate) struct StoredImage {
    pub bytes: Bytes,
    pub format: Format,
}

/// What a finished task produced.
#[derive(Clone)]
enum Outcome {
    /// Reserved, still being processed (sync in flight).
    Pending,
    /// Final data items (without `status`).
    Items(Vec<Value>),
    /// A task error (without `status`).
    Error(ApiError),
}

struct TaskRecord {
    task_type: String,
    request: Value,
    accepted: Instant,
    delay: Duration,
    expected: usize,
    outcome: Outcome,
}

/// Mutable state.
#[derive(Default)]
pub(crate) struct Inner {
    /// owner (the API key) → taskUUID → record. Tasks belong to the key, not the connection.
    tasks: HashMap<String, HashMap<String, TaskRecord>>,
    executions: HashMap<String, u32>,
    images: HashMap<String, StoredImage>,
    pub log: Vec<LoggedRequest>,
    pub faults: Vec<RuleState>,
    pub rest_requests: u64,
    /// TCP connections accepted: how well clients keep connections alive.
    pub connections: u64,
}

/// Everything a connection needs.
pub(crate) struct Shared {
    pub config: Config,
    async_delay: Mutex<Duration>,
    latency: Mutex<Duration>,
    inner: Mutex<Inner>,
    pub shutdown: watch::Receiver<bool>,
}

/// What one task produced.
pub(crate) enum Output {
    /// Data items (possibly several: numberResults, promptVersions).
    Data(Vec<Value>),
    /// One error.
    Error(ApiError),
    /// Nothing (an authentication task over REST).
    Nothing,
}

/// Per-request options.
#[derive(Default, Clone)]
pub(crate) struct TaskOpts {
    /// `?dryRun=1`: validate only.
    pub dry_run: bool,
    /// An injected task error code for the work tasks of this request.
    pub task_error: Option<String>,
    /// Only tasks of this type get the injected task error (None: every work task).
    pub task_error_type: Option<String>,
}

/// The result of running one task.
pub(crate) struct TaskRun {
    pub output: Output,
    /// The taskUUID if the task was executed (accepted and processed).
    pub executed: Option<String>,
}

impl TaskRun {
    fn out(output: Output) -> Self {
        Self {
            output,
            executed: None,
        }
    }
    fn err(e: ApiError) -> Self {
        Self::out(Output::Error(e))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub fn new(
        config: Config,
        async_delay: Duration,
        latency: Duration,
        faults: Vec<FaultRule>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let inner = Inner {
            faults: faults.into_iter().map(RuleState::new).collect(),
            ..Default::default()
        };
        Self {
            config,
            async_delay: Mutex::new(async_delay),
            latency: Mutex::new(latency),
            inner: Mutex::new(inner),
            shutdown,
        }
    }

    /// Locks the mutable state.
    pub fn inner(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// Whether `key` is accepted: any configured key, or any non-empty key when none is configured.
    pub fn key_valid(&self, key: &str) -> bool {
        if self.config.keys.is_empty() {
            !key.trim().is_empty()
        } else {
            self.config.keys.iter().any(|k| k == key)
        }
    }

    pub fn add_fault(&self, rule: FaultRule) {
        self.inner().faults.push(RuleState::new(rule));
    }
    pub fn clear_faults(&self) {
        self.inner().faults.clear();
    }
    pub fn fault_rules(&self) -> Vec<FaultRule> {
        self.inner().faults.iter().map(|r| r.rule.clone()).collect()
    }
    /// Picks the fault for a REST request: the fault, its log name and the rule's task type.
    pub fn pick_fault(&self, task_types: &[String]) -> Option<(Fault, String, Option<String>)> {
        let mut inner = self.inner();
        inner.rest_requests += 1;
        faults::pick(&mut inner.faults, task_types)
    }
    pub fn set_latency(&self, d: Duration) {
        *lock(&self.latency) = d;
    }
    pub fn latency(&self) -> Duration {
        *lock(&self.latency)
    }
    pub fn set_async_delay(&self, d: Duration) {
        *lock(&self.async_delay) = d;
    }
    pub fn async_delay(&self) -> Duration {
        *lock(&self.async_delay)
    }
    pub fn log(&self, entry: LoggedRequest) {
        tracing::debug!(method = %entry.method, path = %entry.path, status = entry.status, fault = ?entry.fault, "request");
        let mut inner = self.inner();
        if inner.log.len() >= MAX_LOG {
            inner.log.drain(..MAX_LOG / 10);
        }
        inner.log.push(entry);
    }
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.inner().log.clone()
    }
    pub fn executions(&self, uuid: &str) -> u32 {
        self.inner().executions.get(uuid).copied().unwrap_or(0)
    }
    pub fn reset(&self) {
        let mut inner = self.inner();
        inner.tasks.clear();
        inner.executions.clear();
        inner.images.clear();
        inner.log.clear();
        inner.faults.clear();
        inner.rest_requests = 0;
        inner.connections = 0;
    }
    /// Counters for `GET /__emulator/stats`.
    pub fn stats(&self) -> Value {
        let inner = self.inner();
        let tasks: usize = inner.tasks.values().map(|m| m.len()).sum();
        json!({
            "requests": inner.log.len(),
            "restRequests": inner.rest_requests,
            "connections": inner.connections,
            "tasks": tasks,
            "images": inner.images.len(),
            "faultRules": inner.faults.len(),
            "executions": inner.executions,
            "totalExecutions": inner.executions.values().map(|v| *v as u64).sum::<u64>(),
        })
    }

    /// Counts one accepted TCP connection.
    pub fn connection_accepted(&self) {
        self.inner().connections += 1;
    }
    /// TCP connections accepted since the start (or the last reset).
    pub fn connections(&self) -> u64 {
        self.inner().connections
    }

    pub fn image(&self, uuid: &str) -> Option<StoredImage> {
        self.inner().images.get(uuid).cloned()
    }

    fn store_image(&self, bytes: Bytes, format: Format) -> String {
        let uuid = uuid::Uuid::new_v4().to_string();
        self.inner()
            .images
            .insert(uuid.clone(), StoredImage { bytes, format });
        uuid
    }

    fn image_url(&self, uuid: &str, format: Format) -> String {
        format!(
            "http://{}/images/{uuid}.{}",
            self.config.addr,
            format.extension()
        )
    }

    /// Finds an input image: an imageUUID the emulator holds, a data URI, raw base64, or a URL
    /// of an image this emulator serves (`…/images/<uuid>.<ext>`).
    fn resolve_image(&self, s: &str) -> Option<(Bytes, Option<String>)> {
        let s = s.trim();
        if let Ok(u) = uuid::Uuid::parse_str(s) {
            let id = u.to_string();
            return self.image(&id).map(|img| (img.bytes, Some(id)));
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            let file = s.rsplit_once("/images/")?.1;
            let stem = file.split(['.', '?', '#']).next()?;
            let id = uuid::Uuid::parse_str(stem).ok()?.to_string();
            return self.image(&id).map(|img| (img.bytes, Some(id)));
        }
        let b64 = if s.starts_with("data:") {
            s.split_once(',')?.1
        } else {
            s
        };
        let bytes = B64.decode(b64.trim()).ok()?;
        detect_format(&bytes)?;
        Some((Bytes::from(bytes), None))
    }

    fn reserve(
        &self,
        owner: &str,
        uuid: &str,
        task_type: &str,
        request: &Value,
        expected: usize,
    ) -> bool {
        let mut inner = self.inner();
        let tasks = inner.tasks.entry(owner.to_string()).or_default();
        if tasks.contains_key(uuid) {
            return false;
        }
        let mut request = request.clone();
        validate::redact(&mut request);
        tasks.insert(
            uuid.to_string(),
            TaskRecord {
                task_type: task_type.to_string(),
                request,
                accepted: Instant::now(),
                delay: Duration::ZERO,
                expected,
                outcome: Outcome::Pending,
            },
        );
        true
    }

    fn release(&self, owner: &str, uuid: &str) {
        if let Some(tasks) = self.inner().tasks.get_mut(owner) {
            tasks.remove(uuid);
        }
    }

    fn finish(&self, owner: &str, uuid: &str, outcome: Outcome, delay: Duration) {
        let mut inner = self.inner();
        if let Some(rec) = inner.tasks.get_mut(owner).and_then(|t| t.get_mut(uuid)) {
            rec.outcome = outcome;
            rec.delay = delay;
            if delay.is_zero() {
                rec.accepted = Instant::now();
            }
        }
        *inner.executions.entry(uuid.to_string()).or_default() += 1;
    }

    fn exists(&self, owner: &str, uuid: &str) -> bool {
        self.inner()
            .tasks
            .get(owner)
            .is_some_and(|t| t.contains_key(uuid))
    }

    /// The current (cumulative) getResponse view of a task: data items and errors.
    fn task_view(
        &self,
        owner: &str,
        uuid: &str,
    ) -> Option<(String, Value, Vec<Value>, Vec<Value>)> {
        // Lowering the async delay at run time also shortens tasks already accepted, so a test
        // can observe `processing`, set the delay to 0, and observe `success` without sleeping.
        let current_delay = self.async_delay();
        let inner = self.inner();
        let rec = inner.tasks.get(owner)?.get(uuid)?;
        let delay = rec.delay.min(current_delay);
        let now = Instant::now();
        let processing = |n: usize| -> Vec<Value> {
            (0..n.max(1))
                .map(|_| json!({"taskType": rec.task_type, "taskUUID": uuid, "status": "processing"}))
                .collect()
        };
        let (data, errors) = match &rec.outcome {
            Outcome::Pending => (processing(rec.expected), vec![]),
            Outcome::Items(items) => {
                let n = items.len().max(1) as u32;
                let data = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let ready = rec.accepted + delay * (i as u32 + 1) / n;
                        if now >= ready {
                            with_field(item.clone(), "status", json!("success"))
                        } else {
                            json!({"taskType": rec.task_type, "taskUUID": uuid, "status": "processing"})
                        }
                    })
                    .collect();
                (data, vec![])
            }
            Outcome::Error(e) => {
                if now >= rec.accepted + delay {
                    (
                        vec![],
                        vec![with_field(e.clone(), "status", json!("error"))],
                    )
                } else {
                    (processing(rec.expected), vec![])
                }
            }
        };
        Some((rec.task_type.clone(), rec.request.clone(), data, errors))
    }

    /// Runs one task for `owner` (the authenticated key).
    pub async fn run_task(self: &Arc<Self>, owner: &str, task: &Value, opts: &TaskOpts) -> TaskRun {
        let Some(obj) = task.as_object() else {
            return TaskRun::err(validate::error(
                "invalidRequestBody",
                "Each element of the request array must be a task object.",
            ));
        };
        let task_type = match obj.get("taskType") {
            Some(Value::String(t)) => t.as_str(),
            None | Some(Value::Null) => {
                let mut e =
                    validate::error("missingTaskType", "Missing required parameter 'taskType'.");
                copy_uuid(&mut e, obj);
                e["parameter"] = json!("taskType");
                return TaskRun::err(e);
            }
            Some(_) => {
                let mut e = validate::error(
                    "invalidTaskType",
                    "Invalid value for 'taskType' parameter. It must be a string.",
                );
                copy_uuid(&mut e, obj);
                e["parameter"] = json!("taskType");
                e["type"] = json!("string");
                return TaskRun::err(e);
            }
        };
        match task_type {
            "authentication" => return TaskRun::out(Output::Nothing),
            "ping" => {
                return TaskRun::out(Output::Data(vec![
                    json!({"taskType": "ping", "pong": true}),
                ]));
            }
            _ => {}
        }
        // Every other task needs a taskUUID (any UUID version is accepted).
        let task_uuid = match obj.get("taskUUID") {
            None | Some(Value::Null) => {
                let mut e = validate::error(
                    "missingTaskUUID",
                    "Missing required parameter 'taskUUID'. Every task needs a unique UUID (v4 recommended).",
                );
                e["parameter"] = json!("taskUUID");
                e["type"] = json!("string");
                e["taskType"] = json!(task_type);
                return TaskRun::err(e);
            }
            Some(Value::String(s)) if uuid::Uuid::parse_str(s).is_ok() => s.as_str(),
            Some(other) => {
                let mut e = validate::error(
                    "invalidTaskUUID",
                    "Invalid value for 'taskUUID' parameter. It must be a UUID string (v4 recommended).",
                );
                e["parameter"] = json!("taskUUID");
                e["type"] = json!("string");
                e["taskType"] = json!(task_type);
                if let Some(s) = other.as_str() {
                    e["taskUUID"] = json!(s);
                }
                return TaskRun::err(e);
            }
        };
        let ctx = TaskCtx {
            task: obj,
            task_type,
            task_uuid,
        };
        match task_type {
            "getResponse" => return TaskRun::out(self.get_response(owner, &ctx)),
            "getTaskDetails" => return TaskRun::out(self.get_task_details(owner, &ctx)),
            "modelSearch" => {
                return TaskRun::out(match model_search(&ctx) {
                    Ok(_) if opts.dry_run => Output::Data(vec![ack(&ctx)]),
                    Ok(v) => Output::Data(vec![v]),
                    Err(e) => Output::Error(e),
                });
            }
            _ => {}
        }
        // Work tasks: validate into a plan, then reserve the taskUUID, then process.
        let plan = match self.plan(&ctx) {
            Ok(plan) => plan,
            Err(e) => return TaskRun::err(e),
        };
        let delivery = match ctx.one_of(
            "deliveryMethod",
            "Delivery method",
            &["sync", "async"],
            false,
            false,
        ) {
            Ok(d) => d.unwrap_or("sync"),
            Err(e) => return TaskRun::err(e),
        };
        let include_cost = match ctx.boolean("includeCost") {
            Ok(b) => b.unwrap_or(false),
            Err(e) => return TaskRun::err(e),
        };
        if opts.dry_run {
            if self.exists(owner, task_uuid) {
                return TaskRun::err(conflict(&ctx));
            }
            return TaskRun::out(Output::Data(vec![ack(&ctx)]));
        }
        if !self.reserve(owner, task_uuid, task_type, task, plan.expected()) {
            return TaskRun::err(conflict(&ctx));
        }
        let is_async = delivery == "async";
        let delay = if is_async {
            self.async_delay()
        } else {
            Duration::ZERO
        };
        let injected = opts.task_error.as_ref().filter(|_| {
            opts.task_error_type
                .as_deref()
                .is_none_or(|t| t == task_type)
        });
        let result = match injected {
            Some(code) => Err(ctx.err(code, faults::task_error_message(code))),
            None => self.execute(&ctx, plan, include_cost).await,
        };
        match (result, is_async) {
            (Ok(items), false) => {
                self.finish(owner, task_uuid, Outcome::Items(items.clone()), delay);
                TaskRun {
                    output: Output::Data(items),
                    executed: Some(task_uuid.to_string()),
                }
            }
            (Err(e), false) => {
                // A failed sync task is not billed and its taskUUID may be reused.
                self.release(owner, task_uuid);
                TaskRun::err(e)
            }
            (Ok(items), true) => {
                self.finish(owner, task_uuid, Outcome::Items(items), delay);
                TaskRun {
                    output: Output::Data(vec![ack(&ctx)]),
                    executed: Some(task_uuid.to_string()),
                }
            }
            (Err(e), true) => {
                self.finish(owner, task_uuid, Outcome::Error(e), delay);
                TaskRun {
                    output: Output::Data(vec![ack(&ctx)]),
                    executed: Some(task_uuid.to_string()),
                }
            }
        }
    }

    fn get_response(&self, owner: &str, ctx: &TaskCtx<'_>) -> Output {
        match self.task_view(owner, ctx.task_uuid) {
            None => Output::Error(not_found(ctx)),
            Some((_, _, _, mut errors)) if !errors.is_empty() => Output::Error(errors.remove(0)),
            Some((_, _, data, _)) => Output::Data(data),
        }
    }

    fn get_task_details(&self, owner: &str, ctx: &TaskCtx<'_>) -> Output {
        match self.task_view(owner, ctx.task_uuid) {
            None => Output::Error(not_found(ctx)),
            Some((_, request, data, errors)) => {
                let response = if errors.is_empty() {
                    json!({"data": data})
                } else {
                    json!({"data": data, "errors": errors})
                };
                Output::Data(vec![json!({
                    "taskType": "getTaskDetails",
                    "taskUUID": ctx.task_uuid,
                    "request": [request],
                    "response": response,
                })])
            }
        }
    }

    /// Validates a work task into a plan.
    fn plan(&self, ctx: &TaskCtx<'_>) -> Result<Plan, ApiError> {
        match ctx.task_type {
            "imageInference" => image_inference_plan(ctx),
            "imageUpload" => {
                let Some(v) = ctx.task.get("image").filter(|v| !v.is_null()) else {
                    return Err(ctx.param_err(
                        "missingImage",
                        "image",
                        "Missing required parameter 'image'. Send a data URI, base64 data, or the URL or UUID of an image.".into(),
                        "string",
                        None,
                    ));
                };
                let s = v.as_str().ok_or_else(|| ctx.wrong_type("image", "string"))?;
                let (bytes, _) = self.resolve_image(s).ok_or_else(|| invalid_image(ctx, "image"))?;
                let format = detect_format(&bytes).ok_or_else(|| invalid_image(ctx, "image"))?;
                Ok(Plan::Upload { bytes, format })
            }
            "upscale" | "imageUpscale" | "removeBackground" | "imageBackgroundRemoval" | "caption" | "imageCaption" => {
                let (param, s) = input_image_param(ctx)?;
                let (bytes, input_uuid) = self.resolve_image(s).ok_or_else(|| invalid_image(ctx, param))?;
                ctx.air("model", false)?;
                let is_upscale = matches!(ctx.task_type, "upscale" | "imageUpscale");
                let is_caption = matches!(ctx.task_type, "caption" | "imageCaption");
                if is_caption {
                    ctx.string("prompt", "Prompt", 1, 3000, false)?;
                    return Ok(Plan::Caption { bytes });
                }
                let default_format = if is_upscale { Format::Jpg } else { Format::Png };
                let output = output_options(ctx, default_format)?;
                let op = if is_upscale {
                    let factor = ctx
                        .int("upscaleFactor", "Upscale factor", Range { min: 1.0, max: 4.0, multiplier: None }, false)?
                        .unwrap_or(2);
                    Transform::Upscale(factor as u32)
                } else {
                    Transform::RemoveBackground
                };
                Ok(Plan::Transform { bytes, input_uuid, op, output })
            }
            "promptEnhance" => {
                let prompt = ctx.string("prompt", "Prompt", 1, 300, true)?.unwrap_or_default().to_string();
                let max_len = ctx
                    .int("promptMaxLength", "Prompt max length", Range { min: 12.0, max: 400.0, multiplier: None }, false)?
                    .unwrap_or(380) as usize;
                let versions = ctx
                    .int("promptVersions", "Prompt versions", Range { min: 1.0, max: 5.0, multiplier: None }, false)?
                    .unwrap_or(1) as usize;
                Ok(Plan::Enhance { prompt, max_len, versions })
            }
            other => Err(ctx.param_err(
                "unsupportedTaskType",
                "taskType",
                format!(
                    "Unsupported task type '{other}'. The emulator supports: imageInference, imageUpload, upscale/imageUpscale, removeBackground/imageBackgroundRemoval, caption/imageCaption, promptEnhance, modelSearch, getResponse, getTaskDetails, authentication, ping."
                ),
                "string",
                None,
            )),
        }
    }

    /// Produces the final data items of a validated work task.
    async fn execute(
        self: &Arc<Self>,
        ctx: &TaskCtx<'_>,
        plan: Plan,
        include_cost: bool,
    ) -> Result<Vec<Value>, ApiError> {
        let base = |extra: Value| -> Value {
            let mut item = json!({"taskType": ctx.task_type, "taskUUID": ctx.task_uuid});
            if let (Some(o), Value::Object(e)) = (item.as_object_mut(), extra) {
                o.extend(e);
            }
            item
        };
        let placeholder = self.config.image_mode == ImageMode::Placeholder;
        match plan {
            Plan::Image(p) => {
                let seeds: Vec<u64> = (0..p.number_results)
                    .map(|i| {
                        p.seed
                            .map(|s| next_seed(s, i))
                            .unwrap_or_else(|| rand::random::<u32>().max(1) as u64)
                    })
                    .collect();
                // Render the generations in parallel on the blocking pool.
                let renders: Vec<_> = seeds
                    .iter()
                    .map(|&seed| {
                        (!placeholder).then(|| {
                            let (prompt, w, h, f, q) = (
                                p.prompt.clone(),
                                p.width,
                                p.height,
                                p.output.format,
                                p.output.quality,
                            );
                            tokio::task::spawn_blocking(move || {
                                render::render(&prompt, seed, w, h, f, q)
                            })
                        })
                    })
                    .collect();
                let mut items = Vec::with_capacity(p.number_results);
                for (seed, render_job) in seeds.into_iter().zip(renders) {
                    let bytes = match render_job {
                        None => Bytes::from_static(render::placeholder(p.output.format)),
                        Some(job) => Bytes::from(job.await.map_err(|_| {
                            ctx.err("inferenceError", "The image could not be rendered.")
                        })?),
                    };
                    let image_uuid = self.store_image(bytes.clone(), p.output.format);
                    let mut item = base(json!({"imageUUID": image_uuid, "seed": seed}));
                    self.add_outputs(&mut item, "image", &image_uuid, &bytes, &p.output);
                    if p.check_nsfw {
                        item["NSFWContent"] = json!(false);
                    }
                    if include_cost {
                        item["cost"] = json!(image_cost(p.width, p.height, p.steps));
                    }
                    items.push(item);
                }
                Ok(items)
            }
            Plan::Upload { bytes, format } => {
                let image_uuid = self.store_image(bytes, format);
                let url = self.image_url(&image_uuid, format);
                Ok(vec![base(
                    json!({"imageUUID": image_uuid, "imageURL": url}),
                )])
            }
            Plan::Transform {
                bytes,
                input_uuid,
                op,
                output,
            } => {
                let out = if placeholder {
                    Bytes::from_static(render::placeholder(output.format))
                } else {
                    let (f, q) = (output.format, output.quality);
                    let res =
                        tokio::task::spawn_blocking(move || render::transform(&bytes, op, f, q))
                            .await;
                    match res {
                        Ok(Ok(v)) => Bytes::from(v),
                        Ok(Err(e)) => {
                            return Err(ctx.err(
                                "invalidInputImage",
                                format!("The input image could not be processed: {e}"),
                            ));
                        }
                        Err(_) => {
                            return Err(
                                ctx.err("inferenceError", "The image could not be processed.")
                            );
                        }
                    }
                };
                let image_uuid = self.store_image(out.clone(), output.format);
                let input_uuid =
                    input_uuid.unwrap_or_else(|| self.store_image(Bytes::new(), output.format));
                let mut item = base(json!({"imageUUID": image_uuid, "inputImageUUID": input_uuid}));
                self.add_outputs(&mut item, "image", &image_uuid, &out, &output);
                if include_cost {
                    item["cost"] = json!(if matches!(op, Transform::Upscale(_)) {
                        0.002
                    } else {
                        0.0006
                    });
                }
                Ok(vec![item])
            }
            Plan::Caption { bytes } => {
                let text = render::caption(&bytes);
                let text = if text.is_empty() {
                    "an image".to_string()
                } else {
                    text
                };
                let mut item = base(json!({"text": text}));
                if include_cost {
                    item["cost"] = json!(0.0003);
                }
                Ok(vec![item])
            }
            Plan::Enhance {
                prompt,
                max_len,
                versions,
            } => Ok((0..versions)
                .map(|v| {
                    let mut item = base(json!({"text": enhance(&prompt, v, max_len)}));
                    if include_cost {
                        item["cost"] = json!(0.0002);
                    }
                    item
                })
                .collect()),
        }
    }

    fn add_outputs(
        &self,
        item: &mut Value,
        prefix: &str,
        uuid: &str,
        bytes: &[u8],
        out: &OutputOptions,
    ) {
        for t in &out.types {
            match *t {
                "URL" => item[format!("{prefix}URL")] = json!(self.image_url(uuid, out.format)),
                "base64Data" => item[format!("{prefix}Base64Data")] = json!(B64.encode(bytes)),
                _ => {
                    item[format!("{prefix}DataURI")] = json!(format!(
                        "data:{};base64,{}",
                        out.format.mime(),
                        B64.encode(bytes)
                    ))
                }
            }
        }
    }
}

/// Where a task's output goes.
struct OutputOptions {
    types: Vec<&'static str>,
    format: Format,
    quality: u8,
}

struct ImagePlan {
    prompt: String,
    width: u32,
    height: u32,
    steps: u32,
    seed: Option<u64>,
    number_results: usize,
    check_nsfw: bool,
    output: OutputOptions,
}

enum Plan {
    Image(ImagePlan),
    Upload {
        bytes: Bytes,
        format: Format,
    },
    Transform {
        bytes: Bytes,
        input_uuid: Option<String>,
        op: Transform,
        output: OutputOptions,
    },
    Caption {
        bytes: Bytes,
    },
    Enhance {
        prompt: String,
        max_len: usize,
        versions: usize,
    },
}

impl Plan {
    fn expected(&self) -> usize {
        match self {
            Plan::Image(p) => p.number_results,
            Plan::Enhance { versions, .. } => *versions,
            _ => 1,
        }
    }
}

fn output_options(ctx: &TaskCtx<'_>, default_format: Format) -> Result<OutputOptions, ApiError> {
    const TYPES: &[&str] = &["URL", "dataURI", "base64Data"];
    let types = match ctx.task.get("outputType") {
        None | Some(Value::Null) => vec!["URL"],
        Some(Value::Array(list)) if !list.is_empty() => {
            let mut out = Vec::new();
            for v in list {
                let found = v
                    .as_str()
                    .and_then(|s| TYPES.iter().copied().find(|t| t.eq_ignore_ascii_case(s)));
                match found {
                    Some(t) => out.push(t),
                    None => {
                        return Err(ctx
                            .one_of("outputType", "Output type", TYPES, true, true)
                            .err()
                            .unwrap_or_else(|| ctx.wrong_type("outputType", "string")));
                    }
                }
            }
            out
        }
        Some(Value::String(_)) => vec![
            ctx.one_of("outputType", "Output type", TYPES, true, true)?
                .unwrap_or("URL"),
        ],
        Some(_) => {
            return Err(ctx
                .one_of("outputType", "Output type", TYPES, true, true)
                .err()
                .unwrap_or_else(|| ctx.wrong_type("outputType", "string")));
        }
    };
    let format = ctx
        .one_of(
            "outputFormat",
            "Output format",
            &["JPG", "JPEG", "PNG", "WEBP"],
            true,
            false,
        )?
        .and_then(Format::parse)
        .unwrap_or(default_format);
    let quality = ctx
        .int(
            "outputQuality",
            "Output quality",
            Range {
                min: 20.0,
                max: 99.0,
                multiplier: None,
            },
            false,
        )?
        .unwrap_or(95) as u8;
    Ok(OutputOptions {
        types,
        format,
        quality,
    })
}

fn image_inference_plan(ctx: &TaskCtx<'_>) -> Result<Plan, ApiError> {
    let prompt = ctx
        .string("positivePrompt", "Positive prompt", 2, 3000, true)?
        .unwrap_or_default()
        .to_string();
    ctx.string("negativePrompt", "Negative prompt", 2, 3000, false)?;
    ctx.air("model", true)?;
    let dim = |p: &str, what: &str| {
        ctx.int(
            p,
            what,
            Range {
                min: 128.0,
                max: 2048.0,
                multiplier: Some(64),
            },
            true,
        )
        .map(|v| v.unwrap_or(512) as u32)
    };
    let width = dim("width", "Image width")?;
    let height = dim("height", "Image height")?;
    let steps = ctx
        .int(
            "steps",
            "Steps",
            Range {
                min: 1.0,
                max: 100.0,
                multiplier: None,
            },
            false,
        )?
        .unwrap_or(20) as u32;
    ctx.float(
        "CFGScale",
        "CFG scale",
        Range {
            min: 0.0,
            max: 50.0,
            multiplier: None,
        },
        false,
    )?;
    let number_results = ctx
        .int(
            "numberResults",
            "Number of results",
            Range {
                min: 1.0,
                max: 20.0,
                multiplier: None,
            },
            false,
        )?
        .unwrap_or(1) as usize;
    let seed = ctx
        .int(
            "seed",
            "Seed",
            Range {
                min: 1.0,
                max: 9_223_372_036_854_775_807.0,
                multiplier: None,
            },
            false,
        )?
        .map(|s| s as u64);
    ctx.int(
        "clipSkip",
        "CLIP skip",
        Range {
            min: 0.0,
            max: 2.0,
            multiplier: None,
        },
        false,
    )?;
    ctx.float(
        "strength",
        "Strength",
        Range {
            min: 0.0,
            max: 1.0,
            multiplier: None,
        },
        false,
    )?;
    if let Some(s) = ctx.task.get("scheduler").filter(|v| !v.is_null())
        && !s.is_string()
    {
        return Err(ctx.wrong_type("scheduler", "string"));
    }
    ctx.air("vae", false)?;
    let check_nsfw_flag = ctx.boolean("checkNSFW")?.unwrap_or(false);
    let mut check_nsfw = check_nsfw_flag;
    if let Some(safety) = ctx.object("safety")? {
        let sctx = TaskCtx {
            task: safety,
            task_type: ctx.task_type,
            task_uuid: ctx.task_uuid,
        };
        let check = sctx.boolean("checkContent")?.unwrap_or(false);
        match sctx.one_of(
            "mode",
            "Safety mode",
            &["none", "fast", "full"],
            false,
            false,
        )? {
            Some("none") => {}
            Some(_) => check_nsfw = true,
            None => check_nsfw |= check,
        }
    }
    let output = output_options(ctx, Format::Jpg)?;
    Ok(Plan::Image(ImagePlan {
        prompt,
        width,
        height,
        steps,
        seed,
        number_results,
        check_nsfw,
        output,
    }))
}

fn model_search(ctx: &TaskCtx<'_>) -> Result<Value, ApiError> {
    let search = ctx
        .string("search", "Search", 0, 500, false)?
        .map(str::to_string);
    let tags = match ctx.task.get("tags") {
        None | Some(Value::Null) => vec![],
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(_) => return Err(ctx.wrong_type("tags", "array")),
    };
    let category = ctx
        .one_of("category", "Category", catalog::CATEGORIES, false, false)?
        .map(str::to_string);
    let model_type = ctx
        .one_of(
            "type",
            "Type",
            &["base", "inpainting", "refiner", "pix2pix"],
            false,
            false,
        )?
        .map(str::to_string);
    let architecture = ctx
        .one_of(
            "architecture",
            "Architecture",
            catalog::ARCHITECTURES,
            false,
            false,
        )?
        .map(str::to_string);
    let conditioning = ctx
        .one_of(
            "conditioning",
            "Conditioning",
            catalog::CONDITIONINGS,
            false,
            false,
        )?
        .map(str::to_string);
    let visibility = ctx
        .one_of(
            "visibility",
            "Visibility",
            catalog::VISIBILITIES,
            false,
            false,
        )?
        .map(str::to_string);
    let limit = ctx
        .int(
            "limit",
            "Limit",
            Range {
                min: 1.0,
                max: 100.0,
                multiplier: None,
            },
            false,
        )?
        .map_or(catalog::DEFAULT_LIMIT, |n| n as usize);
    let offset = ctx
        .int(
            "offset",
            "Offset",
            Range {
                min: 0.0,
                max: 1_000_000_000.0,
                multiplier: None,
            },
            false,
        )?
        .unwrap_or(0) as usize;
    let page = catalog::search(&catalog::SearchQuery {
        search,
        tags,
        category,
        model_type,
        architecture,
        conditioning,
        visibility,
        limit,
        offset,
    });
    Ok(json!({
        "taskType": ctx.task_type,
        "taskUUID": ctx.task_uuid,
        "totalResults": page.total_results,
        "results": page.results,
    }))
}

fn input_image_param<'a>(ctx: &TaskCtx<'a>) -> Result<(&'static str, &'a str), ApiError> {
    if let Some(v) = ctx.task.get("inputImage").filter(|v| !v.is_null()) {
        return v
            .as_str()
            .map(|s| ("inputImage", s))
            .ok_or_else(|| ctx.wrong_type("inputImage", "string"));
    }
    if let Some(Value::Array(list)) = ctx.task.get("inputImages")
        && let Some(Value::String(s)) = list.first()
    {
        return Ok(("inputImages", s.as_str()));
    }
    if let Some(Value::Object(inputs)) = ctx.task.get("inputs")
        && let Some(Value::String(s)) = inputs.get("image")
    {
        return Ok(("inputs.image", s.as_str()));
    }
    Err(ctx.param_err(
        "missingInputImage",
        "inputImage",
        "Missing required parameter 'inputImage'. Send the UUID of an image, a data URI, base64 data or the URL of an image this server holds.".into(),
        "string",
        None,
    ))
}

fn invalid_image(ctx: &TaskCtx<'_>, param: &str) -> ApiError {
    ctx.param_err(
        &format!("invalid{}", validate::upper_first(param.trim_start_matches("inputs."))),
        param,
        format!(
            "Invalid value for '{param}' parameter. The image must be specified in one of the following formats: the UUID of an image this server holds, a data URI, base64 data, or the URL of an image served by this emulator. Supported formats are: PNG, JPG, and WEBP."
        ),
        "string",
        None,
    )
}

fn detect_format(bytes: &[u8]) -> Option<Format> {
    match image::guess_format(bytes).ok()? {
        image::ImageFormat::Png => Some(Format::Png),
        image::ImageFormat::Jpeg => Some(Format::Jpg),
        image::ImageFormat::WebP => Some(Format::Webp),
        _ => None,
    }
}

fn ack(ctx: &TaskCtx<'_>) -> Value {
    json!({"taskType": ctx.task_type, "taskUUID": ctx.task_uuid})
}

fn conflict(ctx: &TaskCtx<'_>) -> ApiError {
    let mut e = ctx.err(
        "conflictTaskUUID",
        format!("A task with taskUUID '{}' was already accepted. Use a new taskUUID, or poll it with getResponse.", ctx.task_uuid),
    );
    e["parameter"] = json!("taskUUID");
    e
}

fn not_found(ctx: &TaskCtx<'_>) -> ApiError {
    let mut e = ctx.err(
        "taskNotFound",
        format!(
            "No task with taskUUID '{}' was found for this API key.",
            ctx.task_uuid
        ),
    );
    e["parameter"] = json!("taskUUID");
    e["documentation"] = json!(validate::doc_page("getResponse"));
    e
}

fn copy_uuid(e: &mut Value, obj: &Map<String, Value>) {
    if let Some(Value::String(s)) = obj.get("taskUUID") {
        e["taskUUID"] = json!(s);
    }
}

fn with_field(mut v: Value, k: &str, val: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert(k.to_string(), val);
    }
    v
}

fn next_seed(seed: u64, i: usize) -> u64 {
    let max = i64::MAX as u64;
    let s = seed + i as u64;
    if s > max { (s - max).max(1) } else { s }
}

fn image_cost(w: u32, h: u32, steps: u32) -> f64 {
    let c = 0.0013 * (w as f64 * h as f64) / (1024.0 * 1024.0) * steps as f64 / 20.0;
    (c.max(0.0001) * 1e6).round() / 1e6
}

fn enhance(prompt: &str, version: usize, max_len: usize) -> String {
    const EXTRAS: &[&str] = &[
        "highly detailed",
        "soft cinematic lighting",
        "rich colour palette",
        "sharp focus",
        "volumetric light",
        "award-winning composition",
        "intricate textures",
        "golden hour",
        "8k resolution",
        "depth of field",
    ];
    let mut h: u64 = 1469598103934665603;
    for b in prompt.bytes() {
        h = (h ^ b as u64).wrapping_mul(1099511628211);
    }
    let mut text = prompt.trim().to_string();
    for k in 0..4 {
        let idx = (h as usize).wrapping_add(version * 3 + k * 7) % EXTRAS.len();
        text.push_str(", ");
        text.push_str(EXTRAS[idx]);
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    words[..words.len().min(max_len)].join(" ")
}
