#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mochi_fuzz::bedrock_messages(data);
});
