//! What `model-search` and `text-to-image` do once the client exists, and the checks of
//! `text-to-image`'s flags that clap cannot make (`--extra-json`), done before anything starts.
//!
//! `raw` is one client call and is dispatched in `main.rs`; the task file's checks are in
//! [`crate::raw`]; the typed tasks (video, audio, the tools, uploads, prompts, the account) and
//! `poll` are in [`crate::tasks`] and [`crate::job`].

use runware_host::{
    API_KEY_ENV, Client, CommonOptions, Delivery, ImageRequest, ModelSearchRequest,
};

use crate::args::{ModelSearchArgs, TextToImageArgs};
use crate::exit::{self, Fail, api_failure};
use crate::progress::Spinner;
use crate::save::save_images;

/// `runware model-search`: prints the page of the catalog; the count goes to stderr.
pub async fn model_search(client: &Client, a: ModelSearchArgs) -> Result<u8, Fail> {
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

/// `--extra-json`, checked: a JSON object, without an `apiKey` field (the key only ever comes
/// from the environment). Shared by every command that takes the flag.
pub fn check_extra_json(extra_json: Option<&String>) -> Result<Option<String>, Fail> {
    let Some(text) = extra_json else {
        return Ok(None);
    };
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
    Ok(Some(text.clone()))
}

/// The request of `runware text-to-image`, with `--extra-json` checked.
pub fn image_request(a: &TextToImageArgs) -> Result<ImageRequest, Fail> {
    let extra_json = check_extra_json(a.extra_json.as_ref())?;
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
        clip_skip: a.clip_skip,
        number_results: a.number_results,
        output_type: a.output_type.map(Into::into),
        output_format: a.output_format.map(Into::into),
        output_quality: a.output_quality,
        common: CommonOptions {
            include_cost: a.include_cost.then_some(true),
            ..CommonOptions::default()
        },
        delivery: a.async_delivery.then_some(Delivery::Async),
        extra_json,
        ..ImageRequest::default()
    })
}

/// `runware text-to-image`: prints the task JSON (`--dry-run`) or the response, then saves the
/// images with `--out`.
pub async fn text_to_image(
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
        save_images(client, dir, &r.images, request.output_format, spinner).await?;
    }
    Ok(exit::OK)
}
