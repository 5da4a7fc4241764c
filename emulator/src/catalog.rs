//! The emulator's built-in model catalog and `modelSearch` filtering and ranking.
//!
//! The catalog holds a few dozen realistic models (FLUX, SDXL, SD 1.5 and other checkpoints,
//! LoRAs, LyCORIS, ControlNets, VAEs and embeddings) with the fields Runware returns
//! (runware-api.md §7). The models are data, in `catalog.json` next to this file (compiled in,
//! parsed once); this module holds the vocabularies and limits `modelSearch` validates against
//! and the search itself. [`search`] implements the documented `modelSearch` semantics:
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

/// The model categories `modelSearch` knows: Runware's six (runware-api.md §7), then one per
/// task type for the curated tool and text models of `runware-sdk` 1.8.0 (Runware documents no
/// category for them; naming each after the task type that runs it lets a client go from a
/// search result to the task to send).
pub const CATEGORIES: &[&str] = &[
    "checkpoint",
    "lora",
    "lycoris",
    "controlnet",
    "vae",
    "embeddings",
    // The image tools and text models.
    "upscale",
    "removeBackground",
    "caption",
    "promptEnhance",
    "textInference",
    "imageMasking",
    "vectorize",
    "controlNetPreprocess",
    "3dInference",
    // Video and audio models (and the video tools): the SDK's typed `category` lists only the
    // image categories, so these two are the emulator's own, named after the task families.
    "video",
    "audio",
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
    // The families of the curated tool and text models.
    "birefnet",
    "bria",
    "bytedance",
    "ccsr",
    "clarity",
    "claude",
    "clip",
    "controlnet_preprocessor",
    "flux",
    "gemini",
    "gemma",
    "glm",
    "gpt",
    "grok",
    "hunyuan_3d",
    "ideogram",
    "llama3",
    "llava",
    "mediapipe",
    "meshy",
    "minimax",
    "picsart",
    "proteus",
    "pruna",
    "qwen2_5_vl",
    "real_esrgan",
    "recraft",
    "rembg",
    "rodin",
    "sam",
    "sd_latent_upscaler",
    "starlight_precise",
    "swinir",
    "trellis_2",
    "tripo",
    "vit",
    "wonder",
    "yolov8",
    // Video and audio model families (one per provider line), the emulator's own names.
    "kling",
    "veo",
    "seedance",
    "hailuo",
    "wan",
    "ltx",
    "pixverse",
    "vidu",
    "runway",
    "video_upscaler",
    "video_background_removal",
    "minimax_music",
    "minimax_speech",
    "ace_step",
    "gemini_tts",
    "inworld_tts",
    "xai_tts",
    "mirelo_sfx",
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
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    width: u32,
    height: u32,
    steps: u32,
    scheduler: String,
    cfg: f64,
    strength: Option<f64>,
}

/// One catalog entry as `catalog.json` holds it; [`Model::to_json`] makes it what
/// `modelSearch` returns.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Model {
    air: String,
    name: String,
    version: String,
    category: String,
    architecture: String,
    /// The checkpoint type (`base`, `inpainting`, `refiner`); checkpoints only.
    #[serde(rename = "type")]
    model_type: Option<String>,
    tags: Vec<String>,
    private: bool,
    comment: String,
    /// Checkpoints only.
    defaults: Option<Defaults>,
    #[serde(rename = "positiveTriggerWords")]
    trigger_words: Option<String>,
    /// ControlNets only.
    conditioning: Option<String>,
}

/// The catalog's data, in no particular order (search ranks it).
const CATALOG_JSON: &str = include_str!("catalog.json");

/// Parses the catalog's data.
fn models() -> Result<Vec<Model>, serde_json::Error> {
    serde_json::from_str(CATALOG_JSON)
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
        if let Some(t) = &self.model_type {
            m.insert("type".into(), json!(t));
        }
        m.insert("tags".into(), json!(self.tags));
        m.insert(
            "heroImage".into(),
            json!(format!(
                "https://mim.runware.ai/r/model/{}/{}.jpg",
                slug(&self.air),
                slug(&self.name)
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
        if let Some(w) = &self.trigger_words {
            m.insert("positiveTriggerWords".into(), json!(w));
        }
        if let Some(c) = &self.conditioning {
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
        // The data is compiled in and a unit test parses it, so this cannot fail in a build that
        // passed its tests; should it anyway, the emulator serves an empty catalog, not a panic.
        let models = models().unwrap_or_else(|e| {
            tracing::error!(error = %e, "the built-in model catalog does not parse");
            Vec::new()
        });
        models
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
        .filter(|e| eq_opt(&query.category, Some(&e.model.category)))
        .filter(|e| eq_opt(&query.model_type, e.model.model_type.as_deref()))
        .filter(|e| eq_opt(&query.architecture, Some(&e.model.architecture)))
        .filter(|e| eq_opt(&query.conditioning, e.model.conditioning.as_deref()))
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
        for (i, category) in CATEGORIES.iter().enumerate() {
            let page = search(&SearchQuery {
                category: Some(category.to_string()),
                ..q()
            });
            // The SDK curates a single prompt enhancer; Runware's own categories have several.
            let min = if i < 6 { 2 } else { 1 };
            assert!(page.total_results >= min, "too few {category}");
        }
    }

    #[test]
    fn tool_and_text_defaults_are_in_their_categories() {
        for (air, category) in [
            ("runware:504@1", "upscale"),
            ("runware:112@5", "removeBackground"),
            ("runware:152@2", "caption"),
            ("runware:llama-3-1-8b@prompt-enhancer", "promptEnhance"),
            ("openai:gpt@5-mini", "textInference"),
        ] {
            let m = find(air).unwrap_or_else(|| panic!("{air} is in the catalog"));
            assert_eq!(m["category"], category, "{air}");
            assert!(crate::validate::is_air(air), "{air}");
            let page = search(&SearchQuery {
                category: Some(category.into()),
                ..q()
            });
            assert!(airs(&page).contains(&air), "{air} found by category");
            let page = search(&SearchQuery {
                architecture: m["architecture"].as_str().map(str::to_string),
                ..q()
            });
            assert!(airs(&page).contains(&air), "{air} found by architecture");
        }
    }

    #[test]
    fn the_json_parses_with_every_model() {
        let models = models().expect("catalog.json parses");
        assert!(models.len() >= 174, "{}", models.len());
        assert_eq!(len(), models.len());
        let airs: std::collections::HashSet<_> = models.iter().map(|m| m.air.as_str()).collect();
        assert_eq!(airs.len(), models.len(), "duplicate AIRs");
    }

    #[test]
    fn video_and_audio_models_are_found_by_category_and_architecture() {
        let cat = |c: &str| {
            airs(&search(&SearchQuery {
                category: Some(c.into()),
                limit: MAX_LIMIT,
                ..q()
            }))
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
        };
        let video = cat("video");
        assert!(
            video
                .iter()
                .any(|a| a == "klingai:kling-video@2.6-standard"),
            "{video:?}"
        );
        // The video tools are filed under the task type that runs them, as the image tools are.
        let upscalers = cat("upscale");
        assert!(
            upscalers.iter().any(|a| a == "bytedance:50@1"),
            "{upscalers:?}"
        );
        let removers = cat("removeBackground");
        assert!(removers.iter().any(|a| a == "bria:51@1"), "{removers:?}");
        let audio = cat("audio");
        for air in ["minimax:music@2.6", "minimax:speech@2.8"] {
            assert!(audio.iter().any(|a| a == air), "{air} in {audio:?}");
        }
        let kling = search(&SearchQuery {
            architecture: Some("kling".into()),
            ..q()
        });
        assert!(kling.total_results >= 3);
        for air in video.iter().chain(&audio) {
            assert!(crate::validate::is_air(air), "{air}");
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
