//! A component a sandbox can trust: inspects the built component's top-level imports and custom
//! sections, and fails if it imports anything beyond wasi:http, io, clocks, random and
//! wasi:cli/stderr (trace lines), or if it lacks its name, version and description metadata.
//! (The component is `no_std`: std's wasi:cli stdin/stdout/environment/exit/terminal imports
//! are gone, and the list keeps them out.)
//!
//! The component binary format is read directly (std only): the preamble, then sections of
//! `id, size, payload`; only the top-level import section (id 10) and custom sections (id 0)
//! matter here, nested modules and components are skipped by size.

use crate::common::component_bytes;

/// Interfaces the component may import: `(package/interface prefix, why)`. A prefix ending in
/// `/` admits every interface of that package.
const ALLOWED: &[(&str, &str)] = &[
    ("wasi:http/", "every request to Runware"),
    ("wasi:io/", "streams and pollables under wasi:http"),
    ("wasi:clocks/", "deadlines and backoff"),
    ("wasi:random/", "UUID v4 taskUUIDs and jitter"),
    ("wasi:cli/stderr", "trace lines and a panic's location"),
    // The component's own type-only interface: an instance of types, no functions.
    (
        "runware:client/types",
        "the component's own record and variant types",
    ),
];

/// What a component imports, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExternKind {
    CoreModule,
    Func,
    Value,
    Type,
    Component,
    Instance,
}

/// The parts of a component binary this test reads.
#[derive(Debug, Default)]
struct ComponentInfo {
    /// Top-level imports: full name (version suffix applied) and kind.
    imports: Vec<(String, ExternKind)>,
    /// Top-level custom sections: name and payload.
    custom: Vec<(String, Vec<u8>)>,
}

impl ComponentInfo {
    /// The payload of the custom section `name`, as text.
    fn custom_text(&self, name: &str) -> Option<String> {
        self.custom
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, data)| String::from_utf8(data.clone()).ok())
    }

    /// The component's own name from its `component-name` section (subsection 0).
    fn component_name(&self) -> Option<String> {
        let sections = self.custom.iter().filter(|(n, _)| n == "component-name");
        sections.into_iter().find_map(|(_, data)| {
            let mut r = Reader::new(data);
            while !r.at_end() {
                let id = r.u8().ok()?;
                let size = r.u32().ok()? as usize;
                let sub = r.take(size).ok()?;
                if id == 0 {
                    return Reader::new(sub).name().ok();
                }
            }
            None
        })
    }
}

/// A cursor over a byte slice with the component format's primitive readers.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn err(&self, what: &str) -> String {
        format!("{what} at byte {}", self.pos)
    }

    fn u8(&mut self) -> Result<u8, String> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| self.err("unexpected end"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| self.err("length past the end"))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    /// An unsigned LEB128 u32.
    fn u32(&mut self) -> Result<u32, String> {
        let mut value: u64 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.u8()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| self.err("u32 overflow"));
            }
        }
        Err(self.err("LEB128 too long"))
    }

    /// Skips a signed LEB128 (an s33 value type).
    fn skip_leb(&mut self) -> Result<(), String> {
        while self.u8()? & 0x80 != 0 {}
        Ok(())
    }

    /// A length-prefixed UTF-8 string.
    fn name(&mut self) -> Result<String, String> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.err("name is not UTF-8"))
    }
}

/// Reads a component's top-level imports and custom sections.
fn parse_component(bytes: &[u8]) -> Result<ComponentInfo, String> {
    let mut r = Reader::new(bytes);
    let preamble = r.take(8)?;
    if preamble != [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00] {
        return Err(format!(
            "not a component (preamble {preamble:02x?}; a core module has version 1, layer 0)"
        ));
    }
    let mut info = ComponentInfo::default();
    while !r.at_end() {
        let id = r.u8()?;
        let size = r.u32()? as usize;
        let mut section = Reader::new(r.take(size)?);
        match id {
            0 => {
                let name = section.name()?;
                let rest = section.take(section.bytes.len() - section.pos)?;
                info.custom.push((name, rest.to_vec()));
            }
            10 => {
                for _ in 0..section.u32()? {
                    info.imports.push(read_import(&mut section)?);
                }
            }
            _ => {}
        }
    }
    Ok(info)
}

/// One import: `externname externdesc`.
fn read_import(r: &mut Reader<'_>) -> Result<(String, ExternKind), String> {
    let has_options = match r.u8()? {
        0x00 | 0x01 => false,
        0x02 => true,
        x => return Err(r.err(&format!("unknown import-name byte {x:#04x}"))),
    };
    let mut name = r.name()?;
    if has_options {
        let mut suffix = None;
        let mut implements = false;
        for _ in 0..r.u32()? {
            match r.u8()? {
                0x00 => {
                    implements = true;
                    r.name()?;
                }
                0x01 => suffix = Some(r.name()?),
                0x02 => {
                    r.name()?;
                }
                x => return Err(r.err(&format!("unknown name option {x:#04x}"))),
            }
        }
        if let Some(suffix) = suffix.filter(|_| !implements && name.contains('@')) {
            name.push_str(&suffix);
        }
    }
    let kind = match r.u8()? {
        0x00 => {
            if r.u8()? != 0x11 {
                return Err(r.err("bad core module import"));
            }
            r.u32()?;
            ExternKind::CoreModule
        }
        0x01 => {
            r.u32()?;
            ExternKind::Func
        }
        0x02 => {
            match r.u8()? {
                0x00 => {
                    r.u32()?;
                }
                _ => r.skip_leb()?,
            }
            ExternKind::Value
        }
        0x03 => {
            if r.u8()? == 0x00 {
                r.u32()?;
            }
            ExternKind::Type
        }
        0x04 => {
            r.u32()?;
            ExternKind::Component
        }
        0x05 => {
            r.u32()?;
            ExternKind::Instance
        }
        x => return Err(r.err(&format!("unknown import kind {x:#04x}"))),
    };
    Ok((name, kind))
}

/// The imports outside [`ALLOWED`] (and any import that is not an interface instance).
fn disallowed(info: &ComponentInfo) -> Vec<String> {
    info.imports
        .iter()
        .filter(|(name, kind)| {
            *kind != ExternKind::Instance || !ALLOWED.iter().any(|(p, _)| name.starts_with(p))
        })
        .map(|(name, kind)| format!("{name} ({kind:?})"))
        .collect()
}

#[test]
fn imports_stay_within_http_io_clocks_random_and_stderr() {
    let info = parse_component(component_bytes()).expect("the component parses");
    let names: Vec<&str> = info.imports.iter().map(|(n, _)| n.as_str()).collect();
    println!("component imports:\n  {}", names.join("\n  "));
    assert!(
        !info.imports.is_empty(),
        "no imports found: the parser missed the import section"
    );
    let bad = disallowed(&info);
    assert!(
        bad.is_empty(),
        "the component imports outside the allowed set (wasi:http, io, clocks, random, wasi:cli/stderr): {bad:?}"
    );
    for forbidden in [
        "wasi:filesystem/",
        "wasi:sockets/",
        "wasi:cli/environment",
        "wasi:cli/stdin",
    ] {
        assert!(
            !names.iter().any(|n| n.starts_with(forbidden)),
            "the component imports {forbidden}*: {names:?}"
        );
    }
}

#[test]
fn component_carries_name_version_and_description() {
    let info = parse_component(component_bytes()).expect("the component parses");
    let sections: Vec<&str> = info.custom.iter().map(|(n, _)| n.as_str()).collect();
    let hint = "add them to the component after building it (wasm-metadata `AddMetadata { name, version, description }` \
                or `wasm-tools metadata add --name --version --description`)";
    let name = info.component_name();
    assert!(
        name.as_deref().is_some_and(|n| !n.is_empty()),
        "no component name (component-name section); custom sections: {sections:?}; {hint}"
    );
    let version = info.custom_text("version");
    assert_eq!(
        version.as_deref(),
        Some(env!("CARGO_PKG_VERSION")),
        "the version custom section should hold the workspace version; custom sections: {sections:?}; {hint}"
    );
    let description = info.custom_text("description");
    assert!(
        description.as_deref().is_some_and(|d| !d.trim().is_empty()),
        "no description custom section; custom sections: {sections:?}; {hint}"
    );
}

/// A synthetic component importing `wasi:filesystem/types` and a function must fail the check,
/// while `wasi:http/types` passes: the check can fail.
#[test]
fn check_rejects_filesystem_and_bare_function_imports() {
    fn import(name: &str, kind: &[u8]) -> Vec<u8> {
        let mut out = vec![0x00, u8::try_from(name.len()).expect("short name")];
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(kind);
        out
    }
    let mut section = vec![3];
    section.extend(import("wasi:http/types@0.2.12", &[0x05, 0x00]));
    section.extend(import("wasi:filesystem/types@0.2.12", &[0x05, 0x01]));
    section.extend(import("wasi:random/random@0.2.12", &[0x01, 0x02]));
    let mut bytes = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    bytes.push(10);
    bytes.push(u8::try_from(section.len()).expect("short section"));
    bytes.extend(section);

    let info = parse_component(&bytes).expect("the synthetic component parses");
    assert_eq!(info.imports.len(), 3);
    assert_eq!(
        disallowed(&info),
        vec![
            "wasi:filesystem/types@0.2.12 (Instance)".to_string(),
            "wasi:random/random@0.2.12 (Func)".to_string(),
        ]
    );
    assert!(
        parse_component(b"\0asm\x01\0\0\0").is_err(),
        "a core module is rejected"
    );
}
