//! Hand-written mirrors of the WIT records (`runware:client/types`), the crate's public vocabulary.
//!
//! Every `Option` field that is `None` is left out of the task JSON, so Runware's own default
//! applies. JSON travels as text (`response_json`, `json`, `data`) exactly as the component
//! produced it; parse it with `serde_json` when you need fields this API does not lift out.

use crate::bindings::runware::client::types as wit;
use crate::error::ErrorDetail;

/// How results are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Delivery {
    /// Results come back in the response to the request (the Runware default).
    #[default]
    Sync,
    /// The request is acknowledged at once and the component polls `getResponse`.
    Async,
}

/// How an image is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OutputType {
    /// A URL to download the image from (`imageURL`). The Runware default.
    #[default]
    Url,
    /// A `data:` URI (`imageDataURI`).
    DataUri,
    /// Plain base64 (`imageBase64Data`).
    Base64Data,
}

/// The image file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OutputFormat {
    /// JPEG, the Runware default.
    #[default]
    Jpg,
    /// PNG.
    Png,
    /// WEBP.
    Webp,
}

impl OutputFormat {
    /// The usual file extension: `jpg`, `png` or `webp`.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Jpg => "jpg",
            OutputFormat::Png => "png",
            OutputFormat::Webp => "webp",
        }
    }
}

/// A LoRA applied to an image inference.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lora {
    /// The LoRA's AIR, such as `civitai:58390@62833`.
    pub model: String,
    /// Its weight, -4 to 4. `None` means 1.
    pub weight: Option<f32>,
}

/// An `imageInference` task. Ranges are checked by the component before anything is sent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageRequest {
    /// What to draw, 2 to 3000 characters.
    pub positive_prompt: String,
    /// What to avoid, 2 to 3000 characters.
    pub negative_prompt: Option<String>,
    /// Model AIR (`provider:id@version`). `None` means `runware:101@1`.
    pub model: Option<String>,
    /// Width in pixels, 128 to 2048 in multiples of 64. `None` means 1024.
    pub width: Option<u32>,
    /// Height in pixels, 128 to 2048 in multiples of 64. `None` means 1024.
    pub height: Option<u32>,
    /// Inference steps, 1 to 100.
    pub steps: Option<u32>,
    /// Classifier-free guidance scale, 0 to 50.
    pub cfg_scale: Option<f32>,
    /// Seed, 1 to 9223372036854775807. `None` lets the server pick one.
    pub seed: Option<u64>,
    /// Scheduler name, such as `Euler a`.
    pub scheduler: Option<String>,
    /// Images to generate, 1 to 20. `None` means 1.
    pub number_results: Option<u32>,
    /// How images are returned.
    pub output_type: Option<OutputType>,
    /// Image file format.
    pub output_format: Option<OutputFormat>,
    /// JPEG/WEBP quality, 20 to 99.
    pub output_quality: Option<u32>,
    /// Ask for the `cost` of each image.
    pub include_cost: Option<bool>,
    /// Ask for a content safety check (`NSFWContent` on each image).
    pub safety_check: Option<bool>,
    /// Sync (default) or async delivery.
    pub delivery: Option<Delivery>,
    /// LoRAs to apply; empty means none.
    pub loras: Vec<Lora>,
    /// Source image for image-to-image: a UUID, data URI, base64 or URL.
    pub seed_image: Option<String>,
    /// Mask for inpainting, in the same forms as `seed_image`.
    pub mask_image: Option<String>,
    /// How far to move from the seed image, 0 to 1.
    pub strength: Option<f32>,
    /// A JSON object whose fields are merged into the task, for parameters this record lacks.
    /// It may not set `taskType`, `taskUUID` or `apiKey`.
    pub extra_json: Option<serde_json::Value>,
}

impl ImageRequest {
    /// A request with this prompt and every other field left to the defaults.
    pub fn new(positive_prompt: impl Into<String>) -> Self {
        Self {
            positive_prompt: positive_prompt.into(),
            ..Self::default()
        }
    }
}

/// One generated image.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Image {
    /// The task that produced it.
    pub task_uuid: String,
    /// Runware's identifier of the image; usable as an input to later tasks.
    pub image_uuid: String,
    /// Where to download it, with output type `url`.
    pub image_url: Option<String>,
    /// The image as a data URI, with output type `data-uri`.
    pub image_data_uri: Option<String>,
    /// The image as base64, with output type `base64-data`.
    pub image_base64_data: Option<String>,
    /// The seed it was generated with.
    pub seed: Option<u64>,
    /// Whether the safety check flagged it, when a check was asked for.
    pub nsfw_content: Option<bool>,
    /// Its cost in USD, when `include_cost` was set.
    pub cost: Option<f64>,
}

/// The result of [`Client::text_to_image`](crate::Client::text_to_image).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageResult {
    /// The task's UUID (a fresh UUID v4).
    pub task_uuid: String,
    /// The images, as many as `number_results` asked for.
    pub images: Vec<Image>,
    /// The merged Runware response, `{"data":[…],"errors":[…]}`, across retries and polls.
    pub response_json: String,
}

/// A `modelSearch` task. `None` fields are not sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelSearchRequest {
    /// Free text matched against names, AIRs, versions and tags.
    pub search: Option<String>,
    /// Models having any of these tags; empty means no tag filter.
    pub tags: Vec<String>,
    /// `checkpoint`, `lora`, `lycoris`, `controlnet`, `vae` or `embeddings`.
    pub category: Option<String>,
    /// Checkpoint type: `base`, `inpainting` or `refiner`.
    pub model_type: Option<String>,
    /// Architecture, such as `flux1d`, `sdxl` or `sd1x`.
    pub architecture: Option<String>,
    /// ControlNet conditioning, such as `canny` or `depth`.
    pub conditioning: Option<String>,
    /// `public`, `private` or `all`.
    pub visibility: Option<String>,
    /// Results per page, 1 to 100. `None` means 20.
    pub limit: Option<u32>,
    /// Results to skip. `None` means 0.
    pub offset: Option<u32>,
}

/// A model in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Model {
    /// Its AIR, such as `runware:101@1`.
    pub air: String,
    /// Display name.
    pub name: String,
    /// Version label.
    pub version: Option<String>,
    /// Category, such as `checkpoint` or `lora`.
    pub category: Option<String>,
    /// Architecture, such as `flux1d`.
    pub architecture: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// The model as Runware described it, a JSON object with every field.
    pub json: String,
}

/// The result of [`Client::model_search`](crate::Client::model_search).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelSearchResult {
    /// The task's UUID.
    pub task_uuid: String,
    /// Matches in the whole catalog, not only on this page.
    pub total_results: u64,
    /// This page of matches.
    pub results: Vec<Model>,
    /// The Runware response as received.
    pub response_json: String,
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// Not every expected result has arrived yet.
    Processing,
    /// Every expected result arrived.
    Success,
    /// The task ended with an error (some results may still have arrived).
    Failed,
}

/// The outcome of one task of a request, tied to it by taskUUID.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskResult {
    /// The task's UUID.
    pub task_uuid: String,
    /// The task's type, such as `imageInference`.
    pub task_type: String,
    /// Where it stands.
    pub status: TaskStatus,
    /// Its successful data items, each a JSON object, in arrival order, without duplicates.
    pub data: Vec<String>,
    /// Its error when `status` is [`TaskStatus::Failed`].
    pub error: Option<ErrorDetail>,
}

/// The result of [`Client::run_tasks`](crate::Client::run_tasks),
/// [`Client::get_response`](crate::Client::get_response) and [`Client::wait`](crate::Client::wait).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunResult {
    /// One entry per task, in the order the tasks were given.
    pub tasks: Vec<TaskResult>,
    /// The merged Runware response, `{"data":[…],"errors":[…]}`, across retries and polls.
    pub response_json: String,
}

impl RunResult {
    /// Whether any task failed (a partial success counts as failed).
    pub fn has_errors(&self) -> bool {
        self.tasks.iter().any(|t| t.status == TaskStatus::Failed)
    }
}

// ---- conversions to and from the generated types -------------------------------------------

impl From<Delivery> for wit::Delivery {
    fn from(d: Delivery) -> Self {
        match d {
            Delivery::Sync => wit::Delivery::Sync,
            Delivery::Async => wit::Delivery::Async,
        }
    }
}

impl From<OutputType> for wit::OutputType {
    fn from(t: OutputType) -> Self {
        match t {
            OutputType::Url => wit::OutputType::Url,
            OutputType::DataUri => wit::OutputType::DataUri,
            OutputType::Base64Data => wit::OutputType::Base64Data,
        }
    }
}

impl From<OutputFormat> for wit::OutputFormat {
    fn from(f: OutputFormat) -> Self {
        match f {
            OutputFormat::Jpg => wit::OutputFormat::Jpg,
            OutputFormat::Png => wit::OutputFormat::Png,
            OutputFormat::Webp => wit::OutputFormat::Webp,
        }
    }
}

impl From<&ImageRequest> for wit::ImageRequest {
    fn from(r: &ImageRequest) -> Self {
        wit::ImageRequest {
            positive_prompt: r.positive_prompt.clone(),
            negative_prompt: r.negative_prompt.clone(),
            model: r.model.clone(),
            width: r.width,
            height: r.height,
            steps: r.steps,
            cfg_scale: r.cfg_scale,
            seed: r.seed,
            scheduler: r.scheduler.clone(),
            number_results: r.number_results,
            output_type: r.output_type.map(Into::into),
            output_format: r.output_format.map(Into::into),
            output_quality: r.output_quality,
            include_cost: r.include_cost,
            safety_check: r.safety_check,
            delivery: r.delivery.map(Into::into),
            loras: r
                .loras
                .iter()
                .map(|l| wit::Lora {
                    model: l.model.clone(),
                    weight: l.weight,
                })
                .collect(),
            seed_image: r.seed_image.clone(),
            mask_image: r.mask_image.clone(),
            strength: r.strength,
            extra_json: r.extra_json.as_ref().map(|v| v.to_string()),
        }
    }
}

impl From<&ModelSearchRequest> for wit::ModelSearchRequest {
    fn from(r: &ModelSearchRequest) -> Self {
        wit::ModelSearchRequest {
            search: r.search.clone(),
            tags: r.tags.clone(),
            category: r.category.clone(),
            model_type: r.model_type.clone(),
            architecture: r.architecture.clone(),
            conditioning: r.conditioning.clone(),
            visibility: r.visibility.clone(),
            limit: r.limit,
            offset: r.offset,
        }
    }
}

impl From<wit::Image> for Image {
    fn from(i: wit::Image) -> Self {
        Image {
            task_uuid: i.task_uuid,
            image_uuid: i.image_uuid,
            image_url: i.image_url,
            image_data_uri: i.image_data_uri,
            image_base64_data: i.image_base64_data,
            seed: i.seed,
            nsfw_content: i.nsfw_content,
            cost: i.cost,
        }
    }
}

impl From<wit::ImageResult> for ImageResult {
    fn from(r: wit::ImageResult) -> Self {
        ImageResult {
            task_uuid: r.task_uuid,
            images: r.images.into_iter().map(Into::into).collect(),
            response_json: r.response_json,
        }
    }
}

impl From<wit::Model> for Model {
    fn from(m: wit::Model) -> Self {
        Model {
            air: m.air,
            name: m.name,
            version: m.version,
            category: m.category,
            architecture: m.architecture,
            tags: m.tags,
            json: m.json,
        }
    }
}

impl From<wit::ModelSearchResult> for ModelSearchResult {
    fn from(r: wit::ModelSearchResult) -> Self {
        ModelSearchResult {
            task_uuid: r.task_uuid,
            total_results: r.total_results,
            results: r.results.into_iter().map(Into::into).collect(),
            response_json: r.response_json,
        }
    }
}

impl From<wit::TaskStatus> for TaskStatus {
    fn from(s: wit::TaskStatus) -> Self {
        match s {
            wit::TaskStatus::Processing => TaskStatus::Processing,
            wit::TaskStatus::Success => TaskStatus::Success,
            wit::TaskStatus::Failed => TaskStatus::Failed,
        }
    }
}

impl From<wit::TaskResult> for TaskResult {
    fn from(t: wit::TaskResult) -> Self {
        TaskResult {
            task_uuid: t.task_uuid,
            task_type: t.task_type,
            status: t.status.into(),
            data: t.data,
            error: t.error.map(Into::into),
        }
    }
}

impl From<wit::RunResult> for RunResult {
    fn from(r: wit::RunResult) -> Self {
        RunResult {
            tasks: r.tasks.into_iter().map(Into::into).collect(),
            response_json: r.response_json,
        }
    }
}
