//! The few json-c calls needed to speak to C backends and gateways, whose
//! plug-in ABI passes configs as genuine `struct json_object*` (third-party
//! plug-ins may keep references with `json_object_get`).
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, CStr, CString};

/// Opaque json-c object (declared, never defined, in our headers).
pub struct json_object {
    _private: [u8; 0],
}

#[allow(improper_ctypes)] // json_object is only ever behind a pointer
extern "C" {
    fn json_tokener_parse(text: *const c_char) -> *mut json_object;
    fn json_object_put(obj: *mut json_object) -> c_int;
    fn json_object_to_json_string_ext(obj: *mut json_object, flags: c_int) -> *const c_char;
}

const JSON_C_TO_STRING_PLAIN: c_int = 0;

/// An owned json-c object (one reference).
pub struct Json(*mut json_object);

impl Json {
    /// Builds a json-c object from a serde value.
    pub fn from_value(v: &serde_json::Value) -> Option<Json> {
        let text = CString::new(v.to_string()).ok()?;
        // SAFETY: text is NUL-terminated; json-c returns a new reference or NULL.
        let obj = unsafe { json_tokener_parse(text.as_ptr()) };
        (!obj.is_null()).then_some(Json(obj))
    }

    pub fn as_ptr(&self) -> *mut json_object {
        self.0
    }
}

impl Drop for Json {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { json_object_put(self.0) };
    }
}

/// Reads a borrowed json-c object into a serde value (NULL → null).
///
/// # Safety
/// `obj` must be NULL or a live json-c object.
pub unsafe fn to_value(obj: *const json_object) -> serde_json::Value {
    if obj.is_null() {
        return serde_json::Value::Null;
    }
    // SAFETY: a live json-c object (the contract); json-c only reads it
    // (the text buffer it returns belongs to the object).
    let text = unsafe { json_object_to_json_string_ext(obj as *mut json_object, JSON_C_TO_STRING_PLAIN) };
    if text.is_null() {
        return serde_json::Value::Null;
    }
    // SAFETY: non-NULL: json-c's NUL-terminated text, alive while `obj` is.
    serde_json::from_str(&unsafe { CStr::from_ptr(text) }.to_string_lossy()).unwrap_or(serde_json::Value::Null)
}

/// Callback handed to a plug-in's `get_config`: stores the config it
/// reports into the `serde_json::Value` that `uargs` points to. Called by
/// C: panics stop here (the value is then left as it was).
///
/// # Safety
/// `uargs` must point to a `serde_json::Value`; `obj` NULL or a live object.
pub unsafe extern "C" fn config_trampoline(uargs: *mut std::ffi::c_void, obj: *const json_object) {
    crate::ffi::panic::guard("plug-in get_config callback", (), || {
        if uargs.is_null() {
            return;
        }
        // SAFETY: obj is NULL or live, and uargs points to a Value the
        // caller of get_config owns for the whole call (this function's
        // contract).
        unsafe { *(uargs as *mut serde_json::Value) = to_value(obj) };
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_trampoline_stores_the_config_and_accepts_null() {
        let json = Json::from_value(&serde_json::json!({"a": [1, 2]})).unwrap();
        let mut out = serde_json::json!({});
        // SAFETY: out is a live Value; the object is live or NULL.
        unsafe {
            config_trampoline(&mut out as *mut serde_json::Value as *mut std::ffi::c_void, json.as_ptr());
            config_trampoline(std::ptr::null_mut(), json.as_ptr());
        }
        assert_eq!(out, serde_json::json!({"a": [1, 2]}));
        // SAFETY: as above.
        unsafe { config_trampoline(&mut out as *mut serde_json::Value as *mut std::ffi::c_void, std::ptr::null()) };
        assert_eq!(out, serde_json::Value::Null);
    }
}
