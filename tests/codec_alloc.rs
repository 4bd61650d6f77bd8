//! What a forged length costs: decoding never reserves memory from a length
//! prefix, so a message claiming billions of entries (or a count that fits
//! the bytes present but whose entries are garbage) allocates only for what
//! was actually decoded. Measured with a counting allocator: the peak of
//! this thread's live heap bytes while one message decodes.

use mochi::bedrock::protocol as bedrock;
use mochi::flock::backends::centralized::wire as centralized;
use mochi::flock::backends::swim::wire as swim;
use mochi::flock::protocol as flock;
use mochi::rpc::codec::{self, Bytes};
use mochi::yokan::protocol as yokan;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn add(n: usize) {
    let _ = LIVE.try_with(|l| {
        let now = l.get() + n;
        l.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

fn sub(n: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(n)));
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters are thread-local cells with constant initializers (no
// allocation, no destructor) and are only read and written here.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size());
        // SAFETY: the caller's layout, passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        sub(layout.size());
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size);
        sub(layout.size());
        // SAFETY: `ptr` came from `System` with `layout`, as the caller promises.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap bytes above the starting point while `f` runs on this thread.
fn peak_of(f: impl FnOnce()) -> usize {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    f();
    PEAK.with(Cell::get) - base
}

/// A varint length of about 2^62.
const HUGE: [u8; 9] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f];

fn forged(prefix: &[u8], tail: usize) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.extend_from_slice(&HUGE);
    v.extend(std::iter::repeat_n(1u8, tail));
    v
}

type Decode = fn(&[u8]) -> bool;

macro_rules! decode {
    ($ty:ty) => {
        (|b: &[u8]| codec::decode::<$ty>(b).is_ok()) as Decode
    };
}

#[test]
fn a_forged_length_allocates_nothing_for_it() {
    // (decoder, bytes before the forged length)
    let cases: Vec<(&str, Decode, Vec<u8>)> = vec![
        ("bedrock args", decode!(bedrock::Args), vec![]),
        ("bedrock answer", decode!(bedrock::Answer), vec![0]),
        ("flock view", decode!(flock::ViewReply), vec![1]),
        ("flock view metadata", decode!(flock::ViewReply), vec![1, 0]),
        ("flock notification", decode!(flock::Notification), vec![1]),
        ("centralized snapshot", decode!(centralized::Snapshot), vec![1, 0, 1, 1, 0, 0]),
        ("swim state", decode!(swim::FullState), vec![]),
        ("swim envelope gossip", decode!(swim::Envelope), vec![1, b'a', 1, 1, 1, 1]),
        ("yokan keys", decode!(yokan::Operation<yokan::Keys<'_>>), vec![0]),
        ("yokan pairs", decode!(yokan::Operation<yokan::Pairs<'_>>), vec![0]),
        ("yokan get reply", decode!(yokan::Reply<Vec<Option<Bytes<'_>>>>), vec![0]),
        ("yokan list reply", decode!(yokan::Reply<Vec<(Bytes<'_>, Bytes<'_>)>>), vec![0]),
        ("yokan failure", decode!(yokan::Reply<()>), vec![1, 2]),
    ];
    for (name, decode, prefix) in cases {
        for tail in [0, 1, 7, 64] {
            let input = forged(&prefix, tail);
            let mut ok = true;
            let peak = peak_of(|| ok = decode(&input));
            assert!(!ok, "{name}: a forged length decoded");
            assert!(peak <= 4096, "{name}: {peak} bytes allocated for a {}-byte message", input.len());
        }
    }
}

#[test]
fn a_plausible_count_of_garbage_entries_reserves_nothing_either() {
    // A count that fits the bytes present (postcard alone would then reserve
    // room for that many entries, each much larger than one byte), followed
    // by entries that are refused at once (an empty address).
    let n = 20_000usize;
    let mut input = codec::encode(&(n as u64));
    input.extend(std::iter::repeat_n(0u8, n));
    let mut ok = true;
    let ours = peak_of(|| ok = codec::decode::<Vec<swim::MemberRecord>>(&input).is_ok());
    assert!(!ok);
    assert!(ours <= 4096, "{ours} bytes allocated");
    // The same input through postcard's own slice decoding: the reservation
    // this codec avoids.
    let plain = peak_of(|| ok = postcard::from_bytes::<Vec<swim::MemberRecord>>(&input).is_ok());
    assert!(!ok);
    assert!(plain >= n * std::mem::size_of::<swim::MemberRecord>(), "postcard reserved only {plain} bytes");
}

#[test]
fn memory_follows_what_is_decoded() {
    // A valid message: the decoded value's memory is in proportion to its
    // bytes (vectors grow by doubling as entries arrive).
    let keys: Vec<Vec<u8>> = (0..1000u32).map(|i| i.to_le_bytes().to_vec()).collect();
    let op = yokan::Operation { mode: 0, args: keys.iter().map(|k| Bytes(k)).collect::<Vec<_>>() };
    let bytes = codec::encode(&op);
    let peak = peak_of(|| {
        let back: yokan::Operation<yokan::Keys<'_>> = codec::decode(&bytes).unwrap();
        assert_eq!(back.args.len(), 1000);
    });
    assert!(peak <= 2 * 1000 * std::mem::size_of::<Bytes<'_>>() + 4096, "{peak} bytes for {} bytes", bytes.len());
}
