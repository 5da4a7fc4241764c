//! The emulator's built-in model catalog and `modelSearch` filtering and ranking.

use serde_json::Value;

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

/// A parsed `modelSearch` request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchQuery {
    /// Free-text search.
    pub search: Option<String>,
    /// Any-of tag filter.
    pub tags: Vec<String>,
    /// Exact category.
    pub category: Option<String>,
    /// Exact checkpoint type (`base`, `inpainting`, `refiner`).
    pub model_type: Option<String>,
    /// Exact architecture.
    pub architecture: Option<String>,
    /// Exact ControlNet conditioning.
    pub conditioning: Option<String>,
    /// `public`, `private` or `all` (None = all).
    pub visibility: Option<String>,
    /// Page size.
    pub limit: usize,
    /// Page offset.
    pub offset: usize,
}

/// One page of search results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPage {
    /// How many models matched in total.
    pub total_results: usize,
    /// The models of this page.
    pub results: Vec<Value>,
}

/// Runs a search over the catalog.
pub fn search(query: &SearchQuery) -> SearchPage {
    let _ = query;
    SearchPage::default()
}

/// The model with this AIR, if the catalog has it.
pub fn find(air: &str) -> Option<Value> {
    let _ = air;
    None
}
