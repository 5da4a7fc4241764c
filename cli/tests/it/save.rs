//! File names and formats of `--out` ([`runware_cli::save`]).

use runware_cli::save::{ext_from_url, parse_data_uri, safe_file_stem, sniff_ext};

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
fn media_formats_from_urls_mimes_and_bytes() {
    use runware_cli::save::ext_from_mime;
    for (url, ext) in [
        ("http://h/media/a.mp4", "mp4"),
        ("http://h/media/a.MOV?sig=1", "mov"),
        ("http://h/media/a.webm#t", "webm"),
        ("http://h/media/a.wav", "wav"),
        ("http://h/media/a.flac", "flac"),
        ("http://h/media/a.ogg", "ogg"),
        ("http://h/media/a.mp3", "mp3"),
        ("http://h/models/a.glb", "glb"),
        ("http://h/images/a.svg", "svg"),
        ("http://h/images/a.jpeg", "jpg"),
    ] {
        assert_eq!(ext_from_url(url), Some(ext), "{url}");
    }
    assert_eq!(ext_from_url("http://h.mp4/media/noext"), None);
    assert_eq!(ext_from_mime("video/quicktime"), Some("mov"));
    assert_eq!(ext_from_mime("audio/mpeg"), Some("mp3"));
    assert_eq!(sniff_ext(b"\0\0\0\x18ftypisom"), Some("mp4"));
    assert_eq!(sniff_ext(b"\0\0\0\x14ftypqt  "), Some("mov"));
    assert_eq!(sniff_ext(&[0x1a, 0x45, 0xdf, 0xa3, 0x01]), Some("webm"));
    assert_eq!(sniff_ext(b"RIFF\0\0\0\0WAVEfmt "), Some("wav"));
    assert_eq!(sniff_ext(b"ID3\x04"), Some("mp3"));
    assert_eq!(sniff_ext(b"fLaC\0"), Some("flac"));
    assert_eq!(sniff_ext(b"OggS\0"), Some("ogg"));
    assert_eq!(sniff_ext(b"glTF\x02\0"), Some("glb"));
    assert_eq!(sniff_ext(b"  <svg xmlns='x'/>"), Some("svg"));
    assert_eq!(sniff_ext(b"<?xml version='1.0'?><svg/>"), Some("svg"));
}
