//! The serialized group view: the JSON text of group files and of
//! `flock_group_view_serialize`, byte-compatible with upstream Flock.
//!
//! As written (compact, no newline, `/` not escaped, keys in this order):
//! `{"members":[{"address":"…","provider_id":N},…],"metadata":{"k":"v",…}}`
//! with members and metadata in view order. There is no digest in the text:
//! a reader recomputes it from the content.
//!
//! As read, a document is accepted if it is a JSON object whose optional
//! `metadata` is an object and whose `members` is a non-empty array of
//! objects, each with a string `address` and an integer `provider_id` in
//! 0..=65535. Unknown keys are ignored; a JSON `null` counts as absent (as in
//! json-c). Every rejection maps to `FLOCK_ERR_INVALID_CONFIG`; an unreadable
//! file to `FLOCK_ERR_INVALID_ARGS`. Like upstream's json-c reader, anything
//! after the first complete JSON value is ignored, and metadata values that
//! are not strings are stored as their JSON text. Unlike upstream, a document
//! without `metadata` is accepted with no metadata (upstream crashes).

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

use super::view::GroupView;

// flock_return_t values (include/flock/flock-common.h) that these errors map to.
const FLOCK_ERR_ALLOCATION: i32 = 1;
const FLOCK_ERR_INVALID_ARGS: i32 = 2;
const FLOCK_ERR_INVALID_CONFIG: i32 = 6;
const FLOCK_ERR_OTHER: i32 = 15;

/// Why a view could not be read or written.
#[derive(thiserror::Error, Debug)]
pub enum ViewError {
    #[error("cannot read group file {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("group view text is empty")]
    Empty,
    #[error("group view text is not valid JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("group view is not a JSON object")]
    NotAnObject,
    #[error("group view \"metadata\" is not an object")]
    MetadataNotObject,
    #[error("group view has no \"members\"")]
    MissingMembers,
    #[error("group view \"members\" is not an array")]
    MembersNotArray,
    #[error("group view \"members\" is empty")]
    NoMembers,
    #[error("group view members[{0}] is not an object")]
    MemberNotObject(usize),
    #[error("group view members[{0}] has no \"address\"")]
    MissingAddress(usize),
    #[error("group view members[{0}] has no \"provider_id\"")]
    MissingProviderId(usize),
    #[error("group view members[{0}].address is not a string")]
    AddressNotString(usize),
    #[error("group view members[{0}].provider_id is not an integer")]
    ProviderIdNotInteger(usize),
    #[error("group view members[{0}].provider_id is not in 0..=65535")]
    ProviderIdOutOfRange(usize),
    #[error("cannot create {}: {source}", path.display())]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

impl ViewError {
    /// The `flock_return_t` value upstream returns in the same situation.
    pub fn code(&self) -> i32 {
        match self {
            ViewError::Read { .. } => FLOCK_ERR_INVALID_ARGS,
            // upstream reports a failed fopen of the temporary file this way
            ViewError::Create { .. } => FLOCK_ERR_ALLOCATION,
            ViewError::Write { .. } => FLOCK_ERR_OTHER,
            _ => FLOCK_ERR_INVALID_CONFIG,
        }
    }
}

// ---- writing -------------------------------------------------------------

/// Appends `s` as a JSON string literal, escaped the way json-c does:
/// `"`, `\`, and control characters (short forms for \b \t \n \f \r,
/// `\u00xx` with lowercase hex otherwise); `/` only if `escape_slash`
/// (the view text is written with json-c's NOSLASHESCAPE flag); everything
/// else, non-ASCII included, verbatim.
fn push_json_string(out: &mut String, s: &str, escape_slash: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if escape_slash => out.push_str("\\/"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The view as upstream writes it (see the module documentation).
pub fn serialize(view: &GroupView) -> String {
    let mut out = String::from("{\"members\":[");
    for (i, m) in view.members().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"address\":");
        push_json_string(&mut out, &m.address, false);
        out.push_str(&format!(",\"provider_id\":{}}}", m.provider_id));
    }
    out.push_str("],\"metadata\":{");
    for (i, (key, value)) in view.metadata().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, key, false);
        out.push(':');
        push_json_string(&mut out, value, false);
    }
    out.push_str("}}");
    out
}

// ---- reading -------------------------------------------------------------

/// A field of a JSON object; `null` counts as absent, as in json-c.
fn field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|v| !v.is_null())
}

/// A JSON value as json-c's `json_object_get_string` renders it: strings as
/// themselves, anything else as its JSON text in json-c's default ("spaced")
/// style, e.g. `{ "a": [ 1, 2 ] }`. Two approximations, because the parsed
/// value no longer has the original text: floating-point numbers are printed
/// in shortest form (json-c keeps the spelling of the input) and object keys
/// come out sorted (json-c keeps the input order).
fn json_c_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => {
            let mut out = String::new();
            push_json_c_spaced(&mut out, other);
            out
        }
    }
}

fn push_json_c_spaced(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => push_json_string(out, s, true),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i > 0 { ", " } else { " " });
                push_json_c_spaced(out, item);
            }
            out.push_str(" ]");
        }
        Value::Object(entries) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                out.push_str(if i > 0 { ", " } else { " " });
                push_json_string(out, key, true);
                out.push_str(": ");
                push_json_c_spaced(out, item);
            }
            out.push_str(" }");
        }
    }
}

/// Checks one element of `members` and returns its (address, provider id).
fn parse_member(index: usize, value: &Value) -> Result<(&str, u16), ViewError> {
    let object = value.as_object().ok_or(ViewError::MemberNotObject(index))?;
    let address = field(object, "address").ok_or(ViewError::MissingAddress(index))?;
    let provider_id = field(object, "provider_id").ok_or(ViewError::MissingProviderId(index))?;
    let address = address.as_str().ok_or(ViewError::AddressNotString(index))?;
    // json-c's "int" type: an integer literal (no fraction, no exponent)
    let provider_id = match provider_id.as_i64() {
        Some(n) => n,
        None if provider_id.is_u64() => i64::MAX, // beyond i64: out of range
        None => return Err(ViewError::ProviderIdNotInteger(index)),
    };
    let provider_id = u16::try_from(provider_id).map_err(|_| ViewError::ProviderIdOutOfRange(index))?;
    Ok((address, provider_id))
}

/// Parses serialized view text given as bytes (it must be UTF-8 JSON).
/// The checks, and their order, are upstream's; on success the view's
/// digest is computed from the content.
pub fn from_bytes(text: &[u8]) -> Result<GroupView, ViewError> {
    // Only the first JSON value is read; what follows is ignored, as json-c does.
    let document = serde_json::Deserializer::from_slice(text).into_iter::<Value>().next().ok_or(ViewError::Empty)??;
    let document = document.as_object().ok_or(ViewError::NotAnObject)?;

    let metadata = match field(document, "metadata") {
        None => None,
        Some(Value::Object(entries)) => Some(entries),
        Some(_) => return Err(ViewError::MetadataNotObject),
    };
    let members = field(document, "members").ok_or(ViewError::MissingMembers)?;
    let members = members.as_array().ok_or(ViewError::MembersNotArray)?;
    if members.is_empty() {
        return Err(ViewError::NoMembers);
    }
    let members = members.iter().enumerate().map(|(i, m)| parse_member(i, m)).collect::<Result<Vec<_>, _>>()?;

    let mut view = GroupView::new();
    for (address, provider_id) in members {
        view.add_member(address, provider_id);
    }
    for (key, value) in metadata.into_iter().flatten() {
        view.add_metadata(key, &json_c_text(value));
    }
    Ok(view)
}

/// Parses serialized view text.
pub fn from_string(text: &str) -> Result<GroupView, ViewError> {
    from_bytes(text.as_bytes())
}

/// Reads and parses a group file.
pub fn from_file(path: &Path) -> Result<GroupView, ViewError> {
    let text = fs::read(path).map_err(|source| ViewError::Read { path: path.to_owned(), source })?;
    from_bytes(&text)
}

// ---- atomic file replacement ---------------------------------------------

/// Distinguishes temporary files of concurrent writers within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// One version of a file on disk: every atomic replacement puts a new
/// inode in place, and a rewrite in place changes the size or the
/// modification time. Lets a writer tell, with one `stat`, whether the file
/// is still the one it wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
}

impl FileStamp {
    fn from_metadata(m: &fs::Metadata) -> FileStamp {
        FileStamp { dev: m.dev(), ino: m.ino(), len: m.len(), mtime: (m.mtime(), m.mtime_nsec()) }
    }

    /// The version of the file at `path` now.
    pub fn of(path: &Path) -> io::Result<FileStamp> {
        fs::metadata(path).map(|m| FileStamp::from_metadata(&m))
    }
}

/// Writes the serialized view to `path`, replacing any previous file
/// atomically: readers see either the old or the new content, never a part.
/// The text goes to a temporary file in the same directory (so that the
/// rename cannot cross file systems), created mode 0600, which is fsynced,
/// renamed over `path`, and then the directory is fsynced so that the rename
/// itself survives a crash. On failure the temporary file is removed and
/// `path` is left as it was.
pub fn write_atomic(path: &Path, view: &GroupView) -> Result<(), ViewError> {
    write_atomic_stamped(path, view).map(|_| ())
}

/// [`write_atomic`], returning the stamp of the file it put in place (taken
/// before the rename, so that a writer that replaces it right after cannot
/// be mistaken for us).
pub fn write_atomic_stamped(path: &Path, view: &GroupView) -> Result<FileStamp, ViewError> {
    let name = path.file_name().ok_or_else(|| ViewError::Create {
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    let dir = parent_dir(path);
    // `<name>.tmp.<pid>.<n>`: unique, so that concurrent writers never share
    // a temporary file (upstream's fixed `<name>.swp` could be clobbered).
    let mut temp_name = name.to_owned();
    temp_name.push(format!(".tmp.{}.{}", std::process::id(), TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)));
    let temp = dir.join(temp_name);

    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|source| ViewError::Create { path: temp.clone(), source })?;

    let written = (|| {
        // the umask may have cleared bits of 0600; set it exactly
        file.set_permissions(Permissions::from_mode(0o600))?;
        file.write_all(serialize(view).as_bytes())?;
        file.sync_all()?;
        let stamp = FileStamp::from_metadata(&file.metadata()?);
        drop(file);
        fs::rename(&temp, path)?;
        Ok(stamp)
    })();
    let stamp = match written {
        Ok(stamp) => stamp,
        Err(source) => {
            // best effort: the error to report is the one above
            let _ = fs::remove_file(&temp);
            return Err(ViewError::Write { path: path.to_owned(), source });
        }
    };

    sync_dir(dir).map_err(|source| ViewError::Write { path: dir.to_owned(), source })?;
    Ok(stamp)
}

/// The directory holding `path` ("." for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// fsyncs a directory; file systems that cannot do it (EINVAL / ENOTSUP)
/// are not an error, there is nothing more we could do there.
fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir)?.sync_all() {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOTSUP)) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    /// The bytes of shared/spec/data/upstream-written.flock (written by
    /// upstream Flock 0.7.0), so the tests do not depend on where shared/ is.
    const UPSTREAM_WRITTEN: &str = "{\"members\":[{\"address\":\"na+sm://1234-0\",\"provider_id\":1},\
{\"address\":\"na+sm://1234-0\",\"provider_id\":2},\
{\"address\":\"ofi+tcp://127.0.0.1:5000\",\"provider_id\":7}],\
\"metadata\":{\"__config__\":\"{}\",\"__type__\":\"static\",\"zeta\":\"été\"}}";
    const UPSTREAM_DIGEST: u64 = 5701955205164907602;

    /// A fresh directory under the system temp dir, removed on drop.
    struct ScratchDir(PathBuf);

    impl ScratchDir {
        fn new(tag: &str) -> Self {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            let dir = std::env::temp_dir().join(format!(
                "mochi-view-{tag}-{}-{nanos}-{}",
                std::process::id(),
                TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(&dir).expect("create scratch dir");
            ScratchDir(dir)
        }
    }

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).expect("read dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    fn sample() -> GroupView {
        let mut v = GroupView::new();
        v.add_member("na+sm://27843-0", 42);
        v.add_member("na+sm://27842-0", 42);
        v.add_metadata("__type__", "static");
        v.add_metadata("__config__", "{}");
        v
    }

    fn err(text: &str) -> ViewError {
        match from_string(text) {
            Ok(v) => panic!("{text:?} was accepted: {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn writes_upstreams_exact_text() {
        assert_eq!(serialize(&GroupView::new()), r#"{"members":[],"metadata":{}}"#);
        assert_eq!(
            serialize(&sample()),
            r#"{"members":[{"address":"na+sm://27842-0","provider_id":42},{"address":"na+sm://27843-0","provider_id":42}],"metadata":{"__config__":"{}","__type__":"static"}}"#
        );
    }

    #[test]
    fn reads_upstream_written_file() {
        let v = from_string(UPSTREAM_WRITTEN).expect("parse");
        assert_eq!(v.digest(), UPSTREAM_DIGEST);
        assert_eq!(v.member_count(), 3);
        assert_eq!(v.find_metadata("zeta"), Some("été"));
        // and writes it back byte for byte
        assert_eq!(serialize(&v), UPSTREAM_WRITTEN);
    }

    #[test]
    fn reads_the_shared_copy_when_present() {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let candidates = [
            manifest.join("../shared/spec/data/upstream-written.flock"),
            PathBuf::from("/work/shared/spec/data/upstream-written.flock"),
        ];
        for path in candidates.iter().filter(|p| p.exists()) {
            let v = from_file(path).expect("parse shared file");
            assert_eq!(v.digest(), UPSTREAM_DIGEST);
            assert_eq!(serialize(&v).as_bytes(), fs::read(path).expect("read").as_slice());
        }
    }

    #[test]
    fn round_trips_awkward_strings() {
        let mut v = GroupView::new();
        v.add_member("ofi+tcp;ofi_rxm://[::1]:1234/\"q\"\\", 65535);
        v.add_member("a", 0);
        v.add_metadata("ctl\u{1}\u{8}\t\n\u{c}\r\u{1f}\u{7f}", "é/ü \u{1F600}");
        v.add_metadata("", "");
        let text = serialize(&v);
        assert!(text.contains(r#""ofi+tcp;ofi_rxm://[::1]:1234/\"q\"\\""#));
        assert!(text.contains(r#""ctl\u0001\b\t\n\f\r\u001f"#));
        assert!(text.contains("\"é/ü \u{1F600}\""));
        let back = from_string(&text).expect("parse");
        assert_eq!(back, v);
        assert_eq!(serialize(&back), text);
    }

    #[test]
    fn digest_is_recomputed_and_order_normalized() {
        let text =
            r#"{"metadata":{"b":"2","a":"1"},"members":[{"provider_id":2,"address":"z"},{"address":"a","provider_id":9}]}"#;
        let v = from_string(text).expect("parse");
        assert_eq!(v.digest(), v.compute_digest());
        assert_eq!(
            serialize(&v),
            r#"{"members":[{"address":"a","provider_id":9},{"address":"z","provider_id":2}],"metadata":{"a":"1","b":"2"}}"#
        );
    }

    #[test]
    fn rejects_what_upstream_rejects() {
        type Expected = fn(&ViewError) -> bool;
        let m = r#"{"address":"a","provider_id":1}"#;
        let cases: Vec<(String, Expected)> = vec![
            ("".into(), |e| matches!(e, ViewError::Empty)),
            ("  \n ".into(), |e| matches!(e, ViewError::Empty)),
            (r#"{"members":[{"address":"a","#.into(), |e| matches!(e, ViewError::NotJson(_))),
            ("not json".into(), |e| matches!(e, ViewError::NotJson(_))),
            ("null".into(), |e| matches!(e, ViewError::NotAnObject)),
            ("[]".into(), |e| matches!(e, ViewError::NotAnObject)),
            ("\"x\"".into(), |e| matches!(e, ViewError::NotAnObject)),
            (format!(r#"{{"members":[{m}],"metadata":[]}}"#), |e| matches!(e, ViewError::MetadataNotObject)),
            (r#"{"members":[],"metadata":"x"}"#.into(), |e| matches!(e, ViewError::MetadataNotObject)),
            ("{}".into(), |e| matches!(e, ViewError::MissingMembers)),
            (r#"{"members":null}"#.into(), |e| matches!(e, ViewError::MissingMembers)),
            (r#"{"members":{}}"#.into(), |e| matches!(e, ViewError::MembersNotArray)),
            (r#"{"members":[]}"#.into(), |e| matches!(e, ViewError::NoMembers)),
            (format!(r#"{{"members":[{m},3]}}"#), |e| matches!(e, ViewError::MemberNotObject(1))),
            (r#"{"members":[{"provider_id":1}]}"#.into(), |e| matches!(e, ViewError::MissingAddress(0))),
            (r#"{"members":[{"address":null,"provider_id":1}]}"#.into(), |e| matches!(e, ViewError::MissingAddress(0))),
            (r#"{"members":[{"address":"a"}]}"#.into(), |e| matches!(e, ViewError::MissingProviderId(0))),
            (r#"{"members":[{"address":1,"provider_id":1}]}"#.into(), |e| matches!(e, ViewError::AddressNotString(0))),
            (r#"{"members":[{"address":"a","provider_id":"1"}]}"#.into(), |e| matches!(e, ViewError::ProviderIdNotInteger(0))),
            (r#"{"members":[{"address":"a","provider_id":1.0}]}"#.into(), |e| matches!(e, ViewError::ProviderIdNotInteger(0))),
            (r#"{"members":[{"address":"a","provider_id":true}]}"#.into(), |e| matches!(e, ViewError::ProviderIdNotInteger(0))),
            (r#"{"members":[{"address":"a","provider_id":-1}]}"#.into(), |e| matches!(e, ViewError::ProviderIdOutOfRange(0))),
            (r#"{"members":[{"address":"a","provider_id":65536}]}"#.into(), |e| matches!(e, ViewError::ProviderIdOutOfRange(0))),
            (r#"{"members":[{"address":"a","provider_id":18446744073709551615}]}"#.into(), |e| {
                matches!(e, ViewError::ProviderIdOutOfRange(0))
            }),
        ];
        for (text, is_expected) in &cases {
            let e = err(text);
            assert!(is_expected(&e), "{text:?} gave {e:?}");
            assert_eq!(e.code(), FLOCK_ERR_INVALID_CONFIG, "{text:?}");
        }
        // invalid UTF-8
        let e = from_bytes(b"{\"members\":[{\"address\":\"\xff\",\"provider_id\":1}]}").unwrap_err();
        assert!(matches!(e, ViewError::NotJson(_)));
        assert_eq!(e.code(), FLOCK_ERR_INVALID_CONFIG);
    }

    #[test]
    fn accepts_what_upstream_accepts() {
        // bounds of provider_id; unknown keys ignored; no metadata; null metadata
        let v = from_string(
            r#"{"members":[{"address":"a","provider_id":0,"rank":3},{"address":"b","provider_id":65535}],"transport":"na+sm","credentials":-1}"#,
        )
        .expect("parse");
        assert_eq!(v.member_count(), 2);
        assert_eq!(v.metadata_count(), 0);
        assert_eq!(v.member_at(1).map(|m| m.provider_id), Some(65535));
        let v = from_string(r#"{"members":[{"address":"a","provider_id":1}],"metadata":null}"#).expect("parse");
        assert_eq!(v.metadata_count(), 0);

        // duplicates are kept (and cancel in the digest)
        let v = from_string(r#"{"members":[{"address":"a","provider_id":1},{"address":"a","provider_id":1}]}"#).expect("parse");
        assert_eq!(v.member_count(), 2);
        assert_eq!(v.digest(), 0);

        // only the first JSON value counts
        let v = from_bytes(b"{\"members\":[{\"address\":\"a\",\"provider_id\":1}]}\0garbage").expect("parse");
        assert_eq!(v.member_count(), 1);
    }

    #[test]
    fn non_string_metadata_becomes_json_c_text() {
        let v = from_string(
            r#"{"members":[{"address":"a","provider_id":1}],"metadata":{"i":42,"n":-7,"f":1.5,"t":true,"z":null,"e":{},"l":[],"o":{"a":[1,"x/y"],"b":{"c":false}}}}"#,
        )
        .expect("parse");
        assert_eq!(v.find_metadata("i"), Some("42"));
        assert_eq!(v.find_metadata("n"), Some("-7"));
        assert_eq!(v.find_metadata("f"), Some("1.5"));
        assert_eq!(v.find_metadata("t"), Some("true"));
        assert_eq!(v.find_metadata("z"), Some("null"));
        assert_eq!(v.find_metadata("e"), Some("{ }"));
        assert_eq!(v.find_metadata("l"), Some("[ ]"));
        assert_eq!(v.find_metadata("o"), Some(r#"{ "a": [ 1, "x\/y" ], "b": { "c": false } }"#));
        assert_eq!(v.digest(), v.compute_digest());
    }

    #[test]
    fn error_codes() {
        assert_eq!(ViewError::NoMembers.code(), 6);
        let io = || io::Error::other("x");
        assert_eq!(ViewError::Read { path: "f".into(), source: io() }.code(), 2);
        assert_eq!(ViewError::Create { path: "f".into(), source: io() }.code(), 1);
        assert_eq!(ViewError::Write { path: "f".into(), source: io() }.code(), 15);
    }

    #[test]
    fn unreadable_file_is_invalid_args() {
        let dir = ScratchDir::new("missing");
        let e = from_file(&dir.0.join("absent.flock")).unwrap_err();
        assert!(matches!(e, ViewError::Read { .. }));
        assert_eq!(e.code(), FLOCK_ERR_INVALID_ARGS);
        // a directory cannot be read as a file either
        assert_eq!(from_file(&dir.0).unwrap_err().code(), FLOCK_ERR_INVALID_ARGS);
    }

    #[test]
    fn bad_file_content_is_invalid_config() {
        let dir = ScratchDir::new("bad");
        for (name, content) in [("empty", ""), ("truncated", &UPSTREAM_WRITTEN[..40]), ("memberless", "{\"members\":[]}")] {
            let path = dir.0.join(name);
            fs::write(&path, content).expect("write");
            assert_eq!(from_file(&path).unwrap_err().code(), FLOCK_ERR_INVALID_CONFIG, "{name}");
        }
    }

    #[test]
    fn write_atomic_creates_0600_and_round_trips() {
        let dir = ScratchDir::new("write");
        let path = dir.0.join("group.flock");
        let view = from_string(UPSTREAM_WRITTEN).expect("parse");
        write_atomic(&path, &view).expect("write");
        assert_eq!(fs::read_to_string(&path).expect("read"), UPSTREAM_WRITTEN);
        assert_eq!(fs::metadata(&path).expect("stat").permissions().mode() & 0o777, 0o600);
        assert_eq!(from_file(&path).expect("parse").digest(), UPSTREAM_DIGEST);
        assert_eq!(entries(&dir.0), ["group.flock"]);
    }

    #[test]
    fn write_atomic_replaces_an_existing_file() {
        let dir = ScratchDir::new("replace");
        let path = dir.0.join("group.flock");
        fs::write(&path, "old content that is longer than the new one ........").expect("write");
        fs::set_permissions(&path, Permissions::from_mode(0o644)).expect("chmod");
        write_atomic(&path, &sample()).expect("write");
        assert_eq!(fs::read_to_string(&path).expect("read"), serialize(&sample()));
        assert_eq!(fs::metadata(&path).expect("stat").permissions().mode() & 0o777, 0o600);
        assert_eq!(entries(&dir.0), ["group.flock"]);
    }

    #[test]
    fn write_atomic_failures() {
        let dir = ScratchDir::new("fail");
        // directory does not exist: the temporary file cannot be created
        let e = write_atomic(&dir.0.join("no/such/dir/group.flock"), &sample()).unwrap_err();
        assert!(matches!(e, ViewError::Create { .. }));
        assert_eq!(e.code(), FLOCK_ERR_ALLOCATION);
        // target is a non-empty directory: the rename fails, nothing is left behind
        let target = dir.0.join("occupied");
        fs::create_dir(&target).expect("mkdir");
        fs::write(target.join("x"), "x").expect("write");
        let e = write_atomic(&target, &sample()).unwrap_err();
        assert!(matches!(e, ViewError::Write { .. }));
        assert_eq!(e.code(), FLOCK_ERR_OTHER);
        assert_eq!(entries(&dir.0), ["occupied"]);
        // a path without a file name
        assert_eq!(write_atomic(Path::new("/"), &sample()).unwrap_err().code(), FLOCK_ERR_ALLOCATION);
    }

    #[test]
    fn stamps_tell_a_replaced_file_from_the_one_written() {
        let dir = ScratchDir::new("stamp");
        let path = dir.0.join("group.flock");
        assert!(FileStamp::of(&path).is_err(), "no file, no stamp");
        let mine = write_atomic_stamped(&path, &sample()).expect("write");
        assert_eq!(FileStamp::of(&path).expect("stat"), mine);
        // another writer replaces it (same content, even): a new version
        let theirs = write_atomic_stamped(&path, &sample()).expect("write");
        assert_ne!(theirs, mine);
        assert_eq!(FileStamp::of(&path).expect("stat"), theirs);
        // rewritten in place with other content: a new version too
        fs::write(&path, "{}").expect("write");
        assert_ne!(FileStamp::of(&path).expect("stat"), theirs);
    }

    #[test]
    fn temporary_file_goes_next_to_the_target() {
        assert_eq!(parent_dir(Path::new("group.flock")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/group.flock")), Path::new("a"));
        assert_eq!(parent_dir(Path::new("/group.flock")), Path::new("/"));
    }
}
