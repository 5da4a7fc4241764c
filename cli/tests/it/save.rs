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
