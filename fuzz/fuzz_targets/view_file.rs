#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mochi_fuzz::view_file(data);
});
