//! The emulator's built-in model catalog and `modelSearch` filtering and ranking.
//!
//! The catalog holds a few dozen realistic models (FLUX, SDXL, SD 1.5 and other checkpoints,
//! LoRAs, LyCORIS, ControlNets, VAEs and embeddings) with the fields Runware returns
//! (runware-api.md §7). [`search`] implements the documented `modelSearch` semantics:
//!
//! * `search` is case-insensitive and weighted: the whole query as a phrase of the name (×10, plus
//!   ×10 more when it is the whole name), the query inside the AIR (×5), each query word inside the
//!   name (×5 per word), each query word equal to a word of the version or to a tag (×1 per hit).
//!   Models scoring 0 are not matches. Results are ranked by score, then by name, then by AIR.
//! * `tags` is an any-of filter; `category`, `type`, `architecture` and `conditioning` are exact
//!   (ASCII case-insensitive) filters; `visibility` is `all` (default), `public` or `private`
//!   (`owned` is read as the organisation's own models, which here are the private ones, and
//!   `favorite` matches nothing: the emulator has no favourites).
//! * `limit` and `offset` page the ranked list; `total_results` counts every match.
//!
//! ```
//! use runware_emulator::catalog::{search, SearchQuery};
//! let page = search(&SearchQuery { search: Some("flux".into()), limit: 5, ..SearchQuery::default() });
//! assert!(page.total_results >= 5);
//! assert_eq!(page.results.len(), 5);
//! ```

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

/// The model categories `modelSearch` knows (runware-api.md §7).
pub const CATEGORIES: &[&str] = &[
    "checkpoint",
    "lora",
    "lycoris",
    "controlnet",
    "vae",
    "embeddings",
];

/// The architectures `modelSearch` accepts (runware-api.md §7).
pub const ARCHITECTURES: &[&str] = &[
    "flux1s",
    "flux1d",
    "fluxpro",
    "fluxultra",
    "fluxkontextdev",
    "fluxkontextpro",
    "fluxkontextmax",
    "imagen3",
    "imagen3fast",
    "imagen4preview",
    "imagen4ultra",
    "imagen4fast",
    "gemini_2_5_flash_image",
    "hidreamfast",
    "hidreamdev",
    "hidreamfull",
    "qwen_image",
    "qwen_image_edit",
    "flex_1_alpha",
    "ideogram1",
    "ideogram2a",
    "ideogram2",
    "ideogram3",
    "sd1x",
    "sdhyper",
    "sd1xlcm",
    "sdxl",
    "sdxllcm",
    "sdxldistilled",
    "sdxlhyper",
    "sdxllightning",
    "sdxlturbo",
    "sd3",
    "pony",
];

/// The checkpoint types `modelSearch` filters on with `type` (runware-api.md §7, plus
/// `pix2pix`, which the API accepts too; no catalog model has it).
pub const TYPES: &[&str] = &["base", "inpainting", "refiner", "pix2pix"];

/// The ControlNet conditionings `modelSearch` filters on (runware-api.md §7).
pub const CONDITIONINGS: &[&str] = &[
    "blur",
    "canny",
    "depth",
    "gray",
    "hed",
    "inpaint",
    "inpaintdepth",
    "lineart",
    "lowquality",
    "normal",
    "openmlsd",
    "openpose",
    "outfit",
    "pix2pix",
    "qrcode",
    "scribble",
    "seg",
    "shuffle",
    "sketch",
    "softedge",
    "tile",
];

/// The `visibility` values accepted: the documented three plus the newer SDK's two.
pub const VISIBILITIES: &[&str] = &["all", "public", "private", "owned", "favorite"];

/// The default page size of `modelSearch`.
pub const DEFAULT_LIMIT: usize = 20;

/// The largest page size `modelSearch` accepts.
pub const MAX_LIMIT: usize = 100;

/// The largest `offset` `modelSearch` accepts.
pub const MAX_OFFSET: usize = 1_000_000_000;

/// The longest `search` text `modelSearch` accepts, in characters.
pub const MAX_SEARCH_LENGTH: usize = 500;

/// A parsed `modelSearch` request. `Default` is the documented default search: everything,
/// `limit` 20, `offset` 0.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// Free-text search (case-insensitive, weighted).
    pub search: Option<String>,
    /// Any-of tag filter (empty = no filter).
    pub tags: Vec<String>,
    /// Exact category (`checkpoint`, `lora`, …).
    pub category: Option<String>,
    /// Exact checkpoint type (`base`, `inpainting`, `refiner`); the request field `type`.
    pub model_type: Option<String>,
    /// Exact architecture (`flux1d`, `sdxl`, …).
    pub architecture: Option<String>,
    /// Exact ControlNet conditioning (`canny`, `depth`, …).
    pub conditioning: Option<String>,
    /// `all`, `public` or `private` (None = `all`).
    pub visibility: Option<String>,
    /// Page size.
    pub limit: usize,
    /// How many ranked matches to skip.
    pub offset: usize,
}

impl Default for SearchQuery {
    fn default() -> Self {
        Self {
            search: None,
            tags: Vec::new(),
            category: None,
            model_type: None,
            architecture: None,
            conditioning: None,
            visibility: None,
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// One page of search results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPage {
    /// How many models matched in total (all pages).
    pub total_results: usize,
    /// The models of this page, as the JSON objects Runware returns.
    pub results: Vec<Value>,
}

/// The defaults a checkpoint declares.
struct Defaults {
    width: u32,
    height: u32,
    steps: u32,
    scheduler: &'static str,
    cfg: f64,
    strength: Option<f64>,
}

/// One catalog entry, before conversion to JSON.
struct Model {
    air: &'static str,
    name: &'static str,
    version: &'static str,
    category: &'static str,
    architecture: &'static str,
    model_type: Option<&'static str>,
    tags: &'static [&'static str],
    private: bool,
    comment: &'static str,
    defaults: Option<Defaults>,
    trigger_words: Option<&'static str>,
    conditioning: Option<&'static str>,
}

const fn ckpt(
    width: u32,
    height: u32,
    steps: u32,
    scheduler: &'static str,
    cfg: f64,
) -> Option<Defaults> {
    Some(Defaults {
        width,
        height,
        steps,
        scheduler,
        cfg,
        strength: None,
    })
}

const fn inpaint(
    width: u32,
    height: u32,
    steps: u32,
    scheduler: &'static str,
    cfg: f64,
    strength: f64,
) -> Option<Defaults> {
    Some(Defaults {
        width,
        height,
        steps,
        scheduler,
        cfg,
        strength: Some(strength),
    })
}

const FLOW: &str = "FlowMatchEulerDiscreteScheduler";

/// A checkpoint entry (category `checkpoint`).
#[expect(
    clippy::too_many_arguments,
    reason = "a table row: one argument per column"
)]
const fn checkpoint(
    air: &'static str,
    name: &'static str,
    version: &'static str,
    architecture: &'static str,
    model_type: &'static str,
    tags: &'static [&'static str],
    defaults: Option<Defaults>,
    trigger_words: &'static str,
    comment: &'static str,
) -> Model {
    Model {
        air,
        name,
        version,
        category: "checkpoint",
        architecture,
        model_type: Some(model_type),
        tags,
        private: false,
        comment,
        defaults,
        trigger_words: Some(trigger_words),
        conditioning: None,
    }
}

/// An add-on entry (LoRA, LyCORIS, VAE, embeddings).
#[expect(
    clippy::too_many_arguments,
    reason = "a table row: one argument per column"
)]
const fn addon(
    air: &'static str,
    name: &'static str,
    version: &'static str,
    category: &'static str,
    architecture: &'static str,
    tags: &'static [&'static str],
    trigger_words: Option<&'static str>,
    comment: &'static str,
) -> Model {
    Model {
        air,
        name,
        version,
        category,
        architecture,
        model_type: None,
        tags,
        private: false,
        comment,
        defaults: None,
        trigger_words,
        conditioning: None,
    }
}

/// A ControlNet entry.
const fn controlnet(
    air: &'static str,
    name: &'static str,
    version: &'static str,
    architecture: &'static str,
    conditioning: &'static str,
    tags: &'static [&'static str],
) -> Model {
    Model {
        air,
        name,
        version,
        category: "controlnet",
        architecture,
        model_type: None,
        tags,
        private: false,
        comment: "",
        defaults: None,
        trigger_words: None,
        conditioning: Some(conditioning),
    }
}

/// Marks an entry as private to the caller's organisation.
const fn private(mut model: Model) -> Model {
    model.private = true;
    model
}

/// The catalog, in no particular order (search ranks it).
fn models() -> Vec<Model> {
    vec![
        // FLUX family.
        checkpoint(
            "runware:101@1",
            "FLUX.1 Dev",
            "1.0",
            "flux1d",
            "base",
            &["flux", "base model", "photorealistic", "text rendering"],
            ckpt(1024, 1024, 28, FLOW, 3.5),
            "",
            "Black Forest Labs' open-weight guidance-distilled 12B model.",
        ),
        checkpoint(
            "runware:100@1",
            "FLUX.1 Schnell",
            "1.0",
            "flux1s",
            "base",
            &["flux", "base model", "fast", "photorealistic"],
            ckpt(1024, 1024, 4, FLOW, 1.0),
            "",
            "Timestep-distilled FLUX for 1-4 step generation.",
        ),
        checkpoint(
            "runware:102@1",
            "FLUX.1 Fill Dev",
            "1.0",
            "flux1d",
            "inpainting",
            &["flux", "inpainting", "outpainting"],
            inpaint(1024, 1024, 28, FLOW, 30.0, 1.0),
            "",
            "Inpainting and outpainting with FLUX.1 Dev.",
        ),
        checkpoint(
            "runware:106@1",
            "FLUX.1 Kontext Dev",
            "1.0",
            "fluxkontextdev",
            "base",
            &["flux", "editing", "reference image"],
            ckpt(1024, 1024, 28, FLOW, 2.5),
            "",
            "In-context image editing with text instructions.",
        ),
        checkpoint(
            "runware:107@1",
            "FLUX.1 Krea Dev",
            "1.0",
            "flux1d",
            "base",
            &["flux", "photorealistic", "aesthetic"],
            ckpt(1024, 1024, 28, FLOW, 4.5),
            "",
            "",
        ),
        checkpoint(
            "bfl:2@1",
            "FLUX1.1 [pro]",
            "1.1",
            "fluxpro",
            "base",
            &["flux", "pro", "api"],
            ckpt(1024, 1024, 28, "Default", 3.0),
            "",
            "Hosted by Black Forest Labs.",
        ),
        checkpoint(
            "bfl:2@2",
            "FLUX1.1 [pro] Ultra",
            "1.1",
            "fluxultra",
            "base",
            &["flux", "pro", "api", "high resolution"],
            ckpt(2048, 2048, 28, "Default", 3.0),
            "",
            "Up to 4 megapixel outputs.",
        ),
        checkpoint(
            "bfl:3@1",
            "FLUX.1 Kontext [pro]",
            "1.0",
            "fluxkontextpro",
            "base",
            &["flux", "editing", "api"],
            ckpt(1024, 1024, 28, "Default", 2.5),
            "",
            "",
        ),
        checkpoint(
            "bfl:4@1",
            "FLUX.1 Kontext [max]",
            "1.0",
            "fluxkontextmax",
            "base",
            &["flux", "editing", "api", "typography"],
            ckpt(1024, 1024, 28, "Default", 2.5),
            "",
            "",
        ),
        // Other foundation models.
        checkpoint(
            "runware:108@1",
            "Qwen-Image",
            "1.0",
            "qwen_image",
            "base",
            &["qwen", "base model", "text rendering"],
            ckpt(1328, 1328, 30, FLOW, 4.0),
            "",
            "",
        ),
        checkpoint(
            "runware:108@20",
            "Qwen-Image-Edit",
            "1.0",
            "qwen_image_edit",
            "base",
            &["qwen", "editing"],
            ckpt(1024, 1024, 30, FLOW, 4.0),
            "",
            "",
        ),
        checkpoint(
            "runware:97@1",
            "HiDream-I1 Full",
            "1.0",
            "hidreamfull",
            "base",
            &["hidream", "base model", "photorealistic"],
            ckpt(1024, 1024, 50, FLOW, 5.0),
            "",
            "",
        ),
        checkpoint(
            "runware:97@3",
            "HiDream-I1 Fast",
            "1.0",
            "hidreamfast",
            "base",
            &["hidream", "fast"],
            ckpt(1024, 1024, 16, FLOW, 1.0),
            "",
            "",
        ),
        checkpoint(
            "runware:5@1",
            "Stable Diffusion 3 Medium",
            "1.0",
            "sd3",
            "base",
            &["stable diffusion", "base model"],
            ckpt(1024, 1024, 28, FLOW, 7.0),
            "",
            "",
        ),
        // SDXL checkpoints.
        checkpoint(
            "civitai:101055@128078",
            "SD XL",
            "v1.0 VAE fix",
            "sdxl",
            "base",
            &["stable diffusion", "sdxl", "base model"],
            ckpt(1024, 1024, 30, "Default", 7.0),
            "",
            "Stable Diffusion XL 1.0 base with the fixed VAE.",
        ),
        checkpoint(
            "civitai:101055@128080",
            "SD XL Refiner",
            "v1.0",
            "sdxl",
            "refiner",
            &["stable diffusion", "sdxl", "refiner"],
            ckpt(1024, 1024, 30, "Default", 7.0),
            "",
            "Use as `refiner` after an SDXL base model.",
        ),
        checkpoint(
            "civitai:133005@782002",
            "Juggernaut XL",
            "Jugg_XI_by_RunDiffusion",
            "sdxl",
            "base",
            &["photorealistic", "sdxl", "portraits", "cinematic"],
            ckpt(1024, 1024, 35, "DPM++ 2M Karras", 4.5),
            "",
            "",
        ),
        checkpoint(
            "civitai:133005@920957",
            "Juggernaut XL Lightning",
            "Jugg_XI_Lightning",
            "sdxllightning",
            "base",
            &["photorealistic", "sdxl", "fast"],
            ckpt(1024, 1024, 6, "DPM++ SDE", 1.5),
            "",
            "",
        ),
        checkpoint(
            "civitai:139562@344487",
            "RealVisXL V4.0",
            "V4.0 (BakedVAE)",
            "sdxl",
            "base",
            &["photorealistic", "sdxl", "realistic"],
            ckpt(1024, 1024, 30, "DPM++ 2M Karras", 6.0),
            "",
            "",
        ),
        checkpoint(
            "civitai:139562@344550",
            "RealVisXL V4.0 Inpainting",
            "V4.0 Inpainting",
            "sdxl",
            "inpainting",
            &["photorealistic", "sdxl", "inpainting"],
            inpaint(1024, 1024, 30, "DPM++ 2M Karras", 6.0, 0.85),
            "",
            "",
        ),
        checkpoint(
            "civitai:112902@351306",
            "DreamShaper XL",
            "Turbo DPM++ SDE",
            "sdxlturbo",
            "base",
            &["sdxl", "fantasy", "illustration", "fast"],
            ckpt(1024, 1024, 8, "DPM++ SDE Karras", 2.0),
            "",
            "",
        ),
        checkpoint(
            "civitai:305149@392545",
            "Promissing_Realistic_XL",
            "v22",
            "sdxl",
            "base",
            &["photorealistic", "sdxl"],
            ckpt(1024, 1024, 20, "Default", 7.5),
            "",
            "",
        ),
        checkpoint(
            "civitai:257749@290640",
            "Pony Diffusion V6 XL",
            "V6 (start with this one)",
            "pony",
            "base",
            &["anime", "cartoon", "pony", "illustration"],
            ckpt(1024, 1024, 25, "Euler a", 7.0),
            "score_9, score_8_up, score_7_up",
            "",
        ),
        // SD 1.5 checkpoints.
        checkpoint(
            "civitai:4201@501240",
            "Realistic Vision V6.0 B1",
            "V6.0 B1 (noVAE)",
            "sd1x",
            "base",
            &["photorealistic", "portraits", "sd 1.5"],
            ckpt(512, 768, 25, "DPM++ SDE Karras", 5.0),
            "RAW photo",
            "",
        ),
        checkpoint(
            "civitai:4384@128713",
            "DreamShaper",
            "8",
            "sd1x",
            "base",
            &["fantasy", "illustration", "anime", "sd 1.5"],
            ckpt(512, 768, 25, "DPM++ 2M Karras", 7.0),
            "",
            "",
        ),
        checkpoint(
            "civitai:4384@131004",
            "DreamShaper Inpainting",
            "8 Inpainting",
            "sd1x",
            "inpainting",
            &["fantasy", "inpainting", "sd 1.5"],
            inpaint(512, 512, 25, "DPM++ 2M Karras", 7.0, 0.75),
            "",
            "",
        ),
        checkpoint(
            "civitai:81458@132760",
            "AbsoluteReality",
            "v1.8.1",
            "sd1x",
            "base",
            &["photorealistic", "realistic", "sd 1.5"],
            ckpt(512, 768, 30, "DPM++ 2M Karras", 6.5),
            "",
            "",
        ),
        checkpoint(
            "civitai:7240@119057",
            "MeinaMix",
            "V11",
            "sd1x",
            "base",
            &["anime", "illustration", "sd 1.5"],
            ckpt(512, 768, 30, "Euler a", 7.0),
            "",
            "",
        ),
        checkpoint(
            "civitai:25694@143906",
            "epiCRealism",
            "pure Evolution V5",
            "sd1x",
            "base",
            &["photorealistic", "sd 1.5"],
            ckpt(512, 768, 25, "DPM++ SDE Karras", 5.0),
            "",
            "",
        ),
        checkpoint(
            "civitai:4468@57618",
            "Counterfeit-V3.0",
            "V3.0",
            "sd1x",
            "base",
            &["anime", "sd 1.5"],
            ckpt(512, 768, 30, "DPM++ 2M Karras", 10.0),
            "",
            "",
        ),
        private(checkpoint(
            "acme:1001@2",
            "Acme Product Shots XL",
            "v2",
            "sdxl",
            "base",
            &["product", "photorealistic", "sdxl", "studio"],
            ckpt(1024, 1024, 30, "DPM++ 2M Karras", 6.0),
            "acmeprod",
            "Fine-tuned in-house on the product catalogue. Internal use only.",
        )),
        // LoRAs.
        addon(
            "civitai:58390@62833",
            "Detail Tweaker LoRA",
            "v1.0",
            "lora",
            "sd1x",
            &["detail", "tool", "sd 1.5"],
            Some(""),
            "Use a weight between -2 and 2.",
        ),
        addon(
            "civitai:122359@135867",
            "Detail Tweaker XL",
            "v1.0",
            "lora",
            "sdxl",
            &["detail", "tool", "sdxl"],
            Some(""),
            "",
        ),
        addon(
            "civitai:652699@993999",
            "Amateur Photography",
            "Flux Dev v6",
            "lora",
            "flux1d",
            &["photorealistic", "amateur", "flux"],
            Some("amateurish photo"),
            "",
        ),
        addon(
            "civitai:631986@706528",
            "XLabs Flux Realism LoRA",
            "v1.0",
            "lora",
            "flux1d",
            &["photorealistic", "realism", "flux"],
            Some(""),
            "",
        ),
        addon(
            "civitai:120096@135931",
            "Pixel Art XL",
            "v1.1",
            "lora",
            "sdxl",
            &["pixel art", "style", "sdxl"],
            Some("pixel art"),
            "",
        ),
        addon(
            "civitai:13941@16576",
            "Epi Noise Offset",
            "v2",
            "lora",
            "sd1x",
            &["lighting", "contrast", "tool"],
            Some(""),
            "",
        ),
        private(addon(
            "acme:1002@3",
            "Acme Brand Style",
            "v3",
            "lora",
            "sdxl",
            &["style", "brand", "product"],
            Some("acmestyle"),
            "Brand colours and lighting. Internal use only.",
        )),
        // LyCORIS.
        addon(
            "civitai:71125@75851",
            "Paper Cutout Style",
            "v1.0",
            "lycoris",
            "sd1x",
            &["style", "paper", "craft"],
            Some("papercut"),
            "",
        ),
        addon(
            "civitai:48139@63006",
            "LowRA",
            "v2",
            "lycoris",
            "sd1x",
            &["lighting", "dark", "tool"],
            Some("dark theme"),
            "",
        ),
        // ControlNets.
        controlnet(
            "civitai:38784@44716",
            "ControlNet Canny SD1.5",
            "v1.1",
            "sd1x",
            "canny",
            &["controlnet", "edges", "sd 1.5"],
        ),
        controlnet(
            "civitai:38784@44736",
            "ControlNet Depth SD1.5",
            "v1.1",
            "sd1x",
            "depth",
            &["controlnet", "depth", "sd 1.5"],
        ),
        controlnet(
            "civitai:38784@44811",
            "ControlNet OpenPose SD1.5",
            "v1.1",
            "sd1x",
            "openpose",
            &["controlnet", "pose", "sd 1.5"],
        ),
        controlnet(
            "civitai:111006@159987",
            "QR Code Monster",
            "v2",
            "sd1x",
            "qrcode",
            &["controlnet", "qr code", "illusion"],
        ),
        controlnet(
            "runware:20@1",
            "ControlNet Canny SDXL",
            "1.0",
            "sdxl",
            "canny",
            &["controlnet", "edges", "sdxl"],
        ),
        controlnet(
            "runware:29@1",
            "ControlNet Tile SDXL",
            "1.0",
            "sdxl",
            "tile",
            &["controlnet", "upscale", "sdxl"],
        ),
        controlnet(
            "runware:25@1",
            "FLUX.1 Dev ControlNet Depth",
            "1.0",
            "flux1d",
            "depth",
            &["controlnet", "depth", "flux"],
        ),
        controlnet(
            "runware:26@1",
            "FLUX.1 Dev ControlNet Canny",
            "1.0",
            "flux1d",
            "canny",
            &["controlnet", "edges", "flux"],
        ),
        // VAEs.
        addon(
            "civitai:276082@311162",
            "SDXL VAE",
            "sdxl_vae fp16 fix",
            "vae",
            "sdxl",
            &["vae", "sdxl"],
            None,
            "",
        ),
        addon(
            "civitai:276082@88156",
            "vae-ft-mse-840000-ema-pruned",
            "840000",
            "vae",
            "sd1x",
            &["vae", "sd 1.5"],
            None,
            "",
        ),
        addon(
            "civitai:23906@28569",
            "kl-f8-anime2 VAE",
            "v1",
            "vae",
            "sd1x",
            &["vae", "anime"],
            None,
            "",
        ),
        // Embeddings.
        addon(
            "civitai:7808@9208",
            "EasyNegative",
            "v1.0",
            "embeddings",
            "sd1x",
            &["negative", "embedding", "anime"],
            Some("easynegative"),
            "Use in the negative prompt.",
        ),
        addon(
            "civitai:4629@5637",
            "Deep Negative",
            "V1.75T",
            "embeddings",
            "sd1x",
            &["negative", "embedding"],
            Some("ng_deepnegative_v1_75t"),
            "",
        ),
        addon(
            "civitai:56519@60938",
            "negative_hand Negative Embedding",
            "v1",
            "embeddings",
            "sd1x",
            &["negative", "hands", "embedding"],
            Some("negative_hand-neg"),
            "",
        ),
        addon(
            "civitai:245628@277389",
            "unaestheticXL",
            "v3.1",
            "embeddings",
            "sdxl",
            &["negative", "embedding", "sdxl"],
            Some("unaestheticXLv31"),
            "",
        ),
    ]
}

/// A slug for the hero image URL: lowercase alphanumerics and dashes.
fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

impl Model {
    /// The model as Runware's `modelSearch` returns it.
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("air".into(), json!(self.air));
        m.insert("name".into(), json!(self.name));
        m.insert("version".into(), json!(self.version));
        m.insert("category".into(), json!(self.category));
        m.insert("architecture".into(), json!(self.architecture));
        if let Some(t) = self.model_type {
            m.insert("type".into(), json!(t));
        }
        m.insert("tags".into(), json!(self.tags));
        m.insert(
            "heroImage".into(),
            json!(format!(
                "https://mim.runware.ai/r/model/{}/{}.jpg",
                slug(self.air),
                slug(self.name)
            )),
        );
        m.insert("private".into(), json!(self.private));
        m.insert("comment".into(), json!(self.comment));
        if let Some(d) = &self.defaults {
            m.insert("defaultWidth".into(), json!(d.width));
            m.insert("defaultHeight".into(), json!(d.height));
            m.insert("defaultSteps".into(), json!(d.steps));
            m.insert("defaultScheduler".into(), json!(d.scheduler));
            m.insert("defaultCFG".into(), json!(d.cfg));
            if let Some(s) = d.strength {
                m.insert("defaultStrength".into(), json!(s));
            }
        }
        if let Some(w) = self.trigger_words {
            m.insert("positiveTriggerWords".into(), json!(w));
        }
        if let Some(c) = self.conditioning {
            m.insert("conditioning".into(), json!(c));
        }
        Value::Object(m)
    }
}

/// A catalog entry with its precomputed JSON and lowercase search keys.
struct Entry {
    model: Model,
    json: Value,
    name: String,
    air: String,
    version_words: Vec<String>,
    tags: Vec<String>,
}

fn entries() -> &'static [Entry] {
    static CATALOG: OnceLock<Vec<Entry>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        models()
            .into_iter()
            .map(|model| Entry {
                json: model.to_json(),
                name: model.name.to_lowercase(),
                air: model.air.to_lowercase(),
                version_words: words(&model.version.to_lowercase()),
                tags: model.tags.iter().map(|t| t.to_lowercase()).collect(),
                model,
            })
            .collect()
    })
}

/// Splits on anything that is not a letter, a digit or a dot (so `v1.0` stays one word).
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '.'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The weighted relevance of `entry` for the lowercase, trimmed, non-empty `query`.
fn score(entry: &Entry, query: &str) -> u32 {
    let mut score = 0;
    if entry.name.contains(query) {
        score += 10;
        if entry.name == query {
            score += 10;
        }
    }
    if entry.air.contains(query) {
        score += 5;
    }
    let query_words = words(query);
    for w in &query_words {
        if entry.name.contains(w.as_str()) {
            score += 5;
        }
        if entry.version_words.iter().any(|v| v == w) {
            score += 1;
        }
        if entry.tags.iter().any(|t| t == w) {
            score += 1;
        }
    }
    // A multi-word tag (`pixel art`) matches the whole query too.
    if query_words.len() > 1 && entry.tags.iter().any(|t| t == query) {
        score += 1;
    }
    score
}

fn eq_opt(filter: &Option<String>, value: Option<&str>) -> bool {
    match filter.as_deref().map(str::trim) {
        None | Some("") => true,
        Some(f) => value.is_some_and(|v| v.eq_ignore_ascii_case(f)),
    }
}

fn visible(visibility: Option<&str>, private: bool) -> bool {
    match visibility.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("all") => true,
        Some("public") => !private,
        Some("private") | Some("owned") => private,
        // `favorite` and anything unknown: the emulator has no favourites.
        _ => false,
    }
}

/// Runs a `modelSearch` over the catalog: filters, ranks by relevance then name, and pages.
pub fn search(query: &SearchQuery) -> SearchPage {
    let text = query
        .search
        .as_deref()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());
    let tags: Vec<String> = query
        .tags
        .iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();

    let mut matches: Vec<(u32, &Entry)> = entries()
        .iter()
        .filter(|e| eq_opt(&query.category, Some(e.model.category)))
        .filter(|e| eq_opt(&query.model_type, e.model.model_type))
        .filter(|e| eq_opt(&query.architecture, Some(e.model.architecture)))
        .filter(|e| eq_opt(&query.conditioning, e.model.conditioning))
        .filter(|e| visible(query.visibility.as_deref(), e.model.private))
        .filter(|e| tags.is_empty() || e.tags.iter().any(|t| tags.contains(t)))
        .filter_map(|e| match &text {
            None => Some((0, e)),
            Some(q) => Some((score(e, q), e)).filter(|(s, _)| *s > 0),
        })
        .collect();
    matches.sort_by(|(sa, a), (sb, b)| {
        sb.cmp(sa)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.air.cmp(&b.air))
    });

    SearchPage {
        total_results: matches.len(),
        results: matches
            .iter()
            .skip(query.offset)
            .take(query.limit)
            .map(|(_, e)| e.json.clone())
            .collect(),
    }
}

/// The model with this AIR (case-insensitive), as `modelSearch` would return it.
pub fn find(air: &str) -> Option<Value> {
    let air = air.trim();
    entries()
        .iter()
        .find(|e| e.model.air.eq_ignore_ascii_case(air))
        .map(|e| e.json.clone())
}

/// How many models the catalog holds.
pub fn len() -> usize {
    entries().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    /// Orders two JSON models by name, as the ranking does within one score.
    fn cmp_by_name(a: &Value, b: &Value) -> Ordering {
        let name = |v: &Value| v["name"].as_str().unwrap_or_default().to_lowercase();
        name(a).cmp(&name(b))
    }

    fn q() -> SearchQuery {
        SearchQuery {
            limit: 1000,
            ..SearchQuery::default()
        }
    }

    fn airs(page: &SearchPage) -> Vec<&str> {
        page.results
            .iter()
            .map(|m| m["air"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn catalog_is_big_and_well_formed() {
        let all = search(&q());
        assert!(all.total_results >= 30, "{}", all.total_results);
        assert_eq!(all.total_results, len());
        let mut seen = std::collections::HashSet::new();
        for m in &all.results {
            let air = m["air"].as_str().unwrap();
            assert!(seen.insert(air.to_string()), "duplicate AIR {air}");
            let (source, rest) = air.split_once(':').expect("AIR has a source");
            let (id, version) = rest.split_once('@').expect("AIR has a version");
            assert!(
                !source.is_empty() && !id.is_empty() && !version.is_empty(),
                "{air}"
            );
            assert!(m["tags"].is_array(), "{air}: tags");
            assert!(m["private"].is_boolean(), "{air}: private");
            assert!(m["heroImage"].as_str().unwrap().starts_with("https://"));
            for field in ["name", "version", "comment"] {
                assert!(m[field].is_string(), "{air}: {field}");
            }
            let category = m["category"].as_str().unwrap();
            assert!(CATEGORIES.contains(&category), "{air}: {category}");
            let arch = m["architecture"].as_str().unwrap();
            assert!(ARCHITECTURES.contains(&arch), "{air}: {arch}");
            if category == "checkpoint" {
                assert!(TYPES.contains(&m["type"].as_str().unwrap()), "{air}");
                for field in [
                    "defaultWidth",
                    "defaultHeight",
                    "defaultSteps",
                    "defaultCFG",
                ] {
                    assert!(m[field].is_number(), "{air}: {field}");
                }
                assert!(m["defaultScheduler"].is_string(), "{air}");
            } else {
                assert!(m.get("type").is_none(), "{air}: type on a non-checkpoint");
                assert!(m.get("defaultWidth").is_none(), "{air}");
            }
            if category == "controlnet" {
                let c = m["conditioning"].as_str().unwrap();
                assert!(CONDITIONINGS.contains(&c), "{air}: {c}");
            } else {
                assert!(m.get("conditioning").is_none(), "{air}");
            }
            if ["checkpoint", "lora", "lycoris", "embeddings"].contains(&category) {
                assert!(m["positiveTriggerWords"].is_string(), "{air}");
            }
        }
        for category in CATEGORIES {
            let page = search(&SearchQuery {
                category: Some(category.to_string()),
                ..q()
            });
            assert!(page.total_results >= 2, "too few {category}");
        }
    }

    #[test]
    fn find_by_air() {
        let m = find("runware:101@1").unwrap();
        assert_eq!(m["name"], "FLUX.1 Dev");
        assert_eq!(m["architecture"], "flux1d");
        assert_eq!(find("RUNWARE:100@1").unwrap()["name"], "FLUX.1 Schnell");
        assert!(find("runware:999@9").is_none());
    }

    #[test]
    fn defaults_are_documented() {
        let d = SearchQuery::default();
        assert_eq!((d.limit, d.offset), (20, 0));
        let page = search(&d);
        assert_eq!(page.results.len(), 20);
        assert!(page.total_results > 20);
    }

    #[test]
    fn search_is_case_insensitive_and_excludes_non_matches() {
        let lower = search(&SearchQuery {
            search: Some("dreamshaper".into()),
            ..q()
        });
        let upper = search(&SearchQuery {
            search: Some("  DREAMSHAPER ".into()),
            ..q()
        });
        assert_eq!(lower, upper);
        assert_eq!(lower.total_results, 3, "{:?}", airs(&lower));
        let none = search(&SearchQuery {
            search: Some("zzqx qqzv".into()),
            ..q()
        });
        assert_eq!(none.total_results, 0);
        assert!(none.results.is_empty());
    }

    #[test]
    fn exact_name_outranks_partial_and_ties_sort_by_name() {
        let page = search(&SearchQuery {
            search: Some("flux.1 dev".into()),
            ..q()
        });
        let a = airs(&page);
        assert_eq!(a[0], "runware:101@1", "{a:?}");
        // "FLUX.1 Dev ControlNet Canny" and "... Depth" score the same: name order.
        let canny = a.iter().position(|x| *x == "runware:26@1").unwrap();
        let depth = a.iter().position(|x| *x == "runware:25@1").unwrap();
        assert!(canny < depth, "{a:?}");
    }

    #[test]
    fn name_phrase_outranks_air_and_tags() {
        // "flux" is in many names (10 + 5), in tags of LoRAs (1) and nowhere in VAEs.
        let page = search(&SearchQuery {
            search: Some("flux".into()),
            ..q()
        });
        let a = airs(&page);
        let pos = |air: &str| a.iter().position(|x| *x == air).unwrap();
        assert!(pos("runware:100@1") < pos("civitai:652699@993999"), "{a:?}");
        // Tag-only matches are found too.
        assert!(a.contains(&"civitai:631986@706528") || a.contains(&"civitai:652699@993999"));
        // Scores are non-increasing down the list, names ascending within a score.
        let scores: Vec<u32> = page
            .results
            .iter()
            .map(|m| {
                let e = entries()
                    .iter()
                    .find(|e| e.model.air == m["air"].as_str().unwrap())
                    .unwrap();
                score(e, "flux")
            })
            .collect();
        for i in 1..scores.len() {
            assert!(scores[i - 1] >= scores[i], "{scores:?}");
            if scores[i - 1] == scores[i] {
                assert_ne!(
                    cmp_by_name(&page.results[i - 1], &page.results[i]),
                    Ordering::Greater
                );
            }
        }
    }

    #[test]
    fn air_wildcard_matches() {
        let page = search(&SearchQuery {
            search: Some("civitai:4384".into()),
            ..q()
        });
        assert_eq!(
            airs(&page),
            vec!["civitai:4384@128713", "civitai:4384@131004"]
        );
    }

    #[test]
    fn version_and_tag_words_match() {
        let page = search(&SearchQuery {
            search: Some("v22".into()),
            ..q()
        });
        assert_eq!(airs(&page), vec!["civitai:305149@392545"]);
        let page = search(&SearchQuery {
            search: Some("anime".into()),
            ..q()
        });
        assert!(page.total_results >= 4);
        assert!(
            page.results
                .iter()
                .all(|m| m["tags"].as_array().unwrap().contains(&json!("anime"))
                    || m["name"].as_str().unwrap().to_lowercase().contains("anime"))
        );
    }

    #[test]
    fn tags_are_any_of() {
        let pixel = search(&SearchQuery {
            tags: vec!["pixel art".into()],
            ..q()
        });
        let qr = search(&SearchQuery {
            tags: vec!["QR CODE".into()],
            ..q()
        });
        let both = search(&SearchQuery {
            tags: vec!["pixel art".into(), "qr code".into()],
            ..q()
        });
        assert_eq!(pixel.total_results, 1);
        assert_eq!(qr.total_results, 1);
        assert_eq!(both.total_results, 2);
    }

    #[test]
    fn exact_filters() {
        let cn = search(&SearchQuery {
            category: Some("controlnet".into()),
            conditioning: Some("canny".into()),
            ..q()
        });
        assert_eq!(cn.total_results, 3, "{:?}", airs(&cn));
        assert!(cn.results.iter().all(|m| m["conditioning"] == "canny"));

        let inpainting = search(&SearchQuery {
            model_type: Some("inpainting".into()),
            ..q()
        });
        assert!(inpainting.total_results >= 3);
        assert!(
            inpainting
                .results
                .iter()
                .all(|m| m["type"] == "inpainting" && m["defaultStrength"].is_number())
        );

        let sdxl_lora = search(&SearchQuery {
            category: Some("lora".into()),
            architecture: Some("sdxl".into()),
            ..q()
        });
        assert!(sdxl_lora.total_results >= 2);
        assert!(
            sdxl_lora
                .results
                .iter()
                .all(|m| m["category"] == "lora" && m["architecture"] == "sdxl")
        );

        // Exact, not substring: "sd" is no architecture.
        let sd = search(&SearchQuery {
            architecture: Some("sd".into()),
            ..q()
        });
        assert_eq!(sd.total_results, 0);
        // A type filter excludes every non-checkpoint.
        let base = search(&SearchQuery {
            model_type: Some("base".into()),
            ..q()
        });
        assert!(base.results.iter().all(|m| m["category"] == "checkpoint"));
    }

    #[test]
    fn visibility() {
        let all = search(&q()).total_results;
        let public = search(&SearchQuery {
            visibility: Some("public".into()),
            ..q()
        });
        let private = search(&SearchQuery {
            visibility: Some("private".into()),
            ..q()
        });
        assert!(private.total_results >= 2);
        assert!(public.results.iter().all(|m| m["private"] == false));
        assert!(private.results.iter().all(|m| m["private"] == true));
        assert_eq!(public.total_results + private.total_results, all);
        let explicit_all = search(&SearchQuery {
            visibility: Some("ALL".into()),
            ..q()
        });
        assert_eq!(explicit_all.total_results, all);
        let favorite = search(&SearchQuery {
            visibility: Some("favorite".into()),
            ..q()
        });
        assert_eq!(favorite.total_results, 0);
    }

    #[test]
    fn paging() {
        let full = search(&q());
        let mut paged = Vec::new();
        let mut offset = 0;
        loop {
            let page = search(&SearchQuery {
                limit: 7,
                offset,
                ..SearchQuery::default()
            });
            assert_eq!(page.total_results, full.total_results);
            assert!(page.results.len() <= 7);
            if page.results.is_empty() {
                break;
            }
            offset += page.results.len();
            paged.extend(page.results);
        }
        assert_eq!(paged, full.results);
        let beyond = search(&SearchQuery {
            offset: 10_000,
            ..SearchQuery::default()
        });
        assert_eq!(beyond.total_results, full.total_results);
        assert!(beyond.results.is_empty());
    }
}
