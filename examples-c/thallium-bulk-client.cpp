/*
 * thallium-bulk-client: moves data with thallium-bulk-server through
 * thallium's bulk API (engine::expose, bulk, bulk_segment, remote_bulk),
 * then shuts the server down.
 *
 *   thallium-bulk-client PROTOCOL SERVER_ADDRESS
 *
 * Checks: local bulk objects (size, segment_count, null, copies and moves,
 * get_bulk / engine::wrap); the server pulls a read_only buffer, a part of
 * it at an offset, a 3-segment one (and a range across its segments) and
 * 9 MiB (three 4 MiB pieces), and pushes a pattern into a write_only
 * buffer, whole and at an offset (the bytes around stay as they were); a
 * push into the read_only buffer and a pull from the write_only one fail
 * with HG_PERMISSION, selections past the end with HG_INVALID_ARG, a null
 * bulk with HG_INVALID_ARG; a bulk returned by an RPC: pulled, pushed into
 * at an offset (the server's checksum agrees), with segments cut to size,
 * asynchronously, with a deadline, and the errors of a local selection past
 * the end and a push into a read_only handle; bulks inside a user type and
 * a vector come back and name our memory; a stashed bulk whose copies are
 * all gone is refused by its owner (HG_NOENTRY); hostile input bytes (a
 * bulk index that was not sent, a bulk count larger than what follows) are
 * answered with an error. Prints one line per check; exits with the number
 * of failed checks.
 */
#include "thallium-bulk-types.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace tl = thallium;

static int failures = 0;

static void check(bool cond, const std::string& what) {
    std::cout << (cond ? "ok: " : "FAIL: ") << what << std::endl;
    if(!cond) ++failures;
}

static std::uint64_t sum_of(const std::vector<unsigned char>& v, std::size_t offset, std::size_t n) {
    return bulk_checksum(v.data() + offset, n);
}

static std::vector<unsigned char> filled(std::size_t n, std::uint32_t seed) {
    std::vector<unsigned char> v(n);
    for(std::size_t i = 0; i < n; ++i) v[i] = bulk_byte(i, seed);
    return v;
}

/* A failed transfer the server reports: the code, and a what() naming the call. */
static void check_refused(const transfer_outcome& o, hg_return_t want, const std::string& what) {
    check(o.code == static_cast<std::int32_t>(want) && o.moved == 0
              && o.what.find("margo_bulk_transfer") != std::string::npos
              && o.what.find(tl::translate_margo_error_code(want)) != std::string::npos,
          what + " (code " + std::to_string(o.code) + ": " + o.what + ")");
}

/* Runs f, which must throw thallium::margo_exception with want. */
template <typename F> static void expect_margo_error(F&& f, hg_return_t want, const std::string& what) {
    try {
        f();
        check(false, what + ": nothing thrown");
    } catch(const tl::margo_exception& ex) {
        check(ex.error() == want && std::string(ex.what()).find("margo_bulk_transfer") != std::string::npos,
              what + " (" + ex.what() + ")");
    } catch(const std::exception& ex) {
        check(false, what + ": wrong exception: " + ex.what());
    }
}

/* Margo procs of our own, to send "pull" hand-made input: the bytes, the
 * bulk flag in the length word, a bulk count, and one real handle. */
struct raw_input {
    std::vector<char> bytes;
    std::uint64_t     count = 0;
    hg_bulk_t         handle = HG_BULK_NULL;
};

static hg_return_t raw_input_proc(hg_proc_t proc, void* data) {
    if(hg_proc_get_op(proc) != HG_ENCODE) return HG_SUCCESS;
    raw_input*    in  = static_cast<raw_input*>(data);
    std::uint64_t n   = in->bytes.size() | (std::uint64_t(1) << 63);
    hg_return_t   ret = hg_proc_uint64_t(proc, &n);
    if(ret == HG_SUCCESS) ret = hg_proc_raw(proc, in->bytes.data(), in->bytes.size());
    if(ret == HG_SUCCESS) ret = hg_proc_uint64_t(proc, &in->count);
    if(ret == HG_SUCCESS) ret = hg_proc_hg_bulk_t(proc, &in->handle);
    return ret;
}

struct raw_answer {
    std::uint64_t size = 0;
    char          bytes[4096];
};

static hg_return_t raw_output_proc(hg_proc_t proc, void* data) {
    raw_answer* out = static_cast<raw_answer*>(data);
    if(hg_proc_get_op(proc) != HG_DECODE) return HG_SUCCESS;
    hg_return_t ret = hg_proc_uint64_t(proc, &out->size);
    if(ret != HG_SUCCESS) return ret;
    if(out->size > sizeof out->bytes) return HG_PROTOCOL_ERROR;
    return hg_proc_raw(proc, out->bytes, out->size);
}

static void put_u64(std::vector<char>& out, std::uint64_t v, int bytes = 8) {
    for(int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

int main(int argc, char** argv) {
    if(argc != 3) {
        std::cerr << "usage: " << argv[0] << " PROTOCOL SERVER_ADDRESS" << std::endl;
        return 2;
    }
    const std::string protocol = argv[1];
    const std::string target   = argv[2];

    try {
        tl::engine   engine(protocol, THALLIUM_CLIENT_MODE);
        tl::endpoint server = engine.lookup(target);
        std::cout << "server address: " << std::string(server) << std::endl;

        tl::remote_procedure pull     = engine.define("pull");
        tl::remote_procedure push     = engine.define("push");
        tl::remote_procedure get_blob = engine.define("get_blob");
        tl::remote_procedure blob_sum = engine.define("blob_sum");
        tl::remote_procedure stash    = engine.define("stash");
        tl::remote_procedure late     = engine.define("late");
        tl::remote_procedure echo     = engine.define("echo");

        auto pull_on_server = [&](const tl::bulk& b, std::uint64_t offset, std::uint64_t size) {
            return pull.on(server)(b, offset, size).as<transfer_outcome, std::uint64_t, std::uint64_t, std::uint32_t>();
        };
        auto push_on_server = [&](const tl::bulk& b, std::uint64_t offset, std::uint64_t size, std::uint32_t seed) {
            return push.on(server)(b, offset, size, seed).as<transfer_outcome>();
        };

        /* Local bulk objects. */
        const std::size_t          src_size = (std::size_t(3) << 20) + 5;
        std::vector<unsigned char> src      = filled(src_size, 1);
        tl::bulk src_b = engine.expose({{src.data(), src.size()}}, tl::bulk_mode::read_only);
        check(src_b.size() == src_size && src_b.segment_count() == 1 && !src_b.is_null(),
              "expose 3 MiB + 5 read_only: size, one segment, not null");
        tl::bulk none;
        check(none.is_null() && none.size() == 0 && none.segment_count() == 0, "a default bulk is null, size 0");
        {
            tl::bulk c1 = src_b;
            tl::bulk c2(std::move(c1));
            bool     moved_ok = c1.is_null() && c2.size() == src_size;
            c1                = c2;
            c2                = tl::bulk();
            check(moved_ok && c1.size() == src_size && c2.is_null() && c1.get_bulk() == src_b.get_bulk(),
                  "copies share the handle, a moved-from bulk is null");
            hg_bulk_t raw = src_b.get_bulk(true);
            tl::bulk  w   = engine.wrap(raw, true);
            check(margo_bulk_free(raw) == HG_SUCCESS && w.size() == src_size && w.get_bulk() == raw,
                  "get_bulk(true) gives a reference of our own; engine::wrap takes its own");
        }

        /* The server pulls the read_only buffer, whole and in part. */
        {
            auto [o, sum, seen, segs] = pull_on_server(src_b, 0, src_size);
            check(o.code == 0 && o.moved == src_size && sum == sum_of(src, 0, src_size) && seen == src_size && segs == 1,
                  "the server pulled all 3 MiB + 5 of a read_only bulk (checksum, size and segment count agree)");
        }
        {
            auto [o, sum, seen, segs] = pull_on_server(src_b, 1000, 5000);
            check(o.code == 0 && o.moved == 5000 && sum == sum_of(src, 1000, 5000),
                  "the server pulled 5000 bytes at offset 1000");
            (void)seen;
            (void)segs;
        }

        /* Three segments exposed as one bulk. */
        {
            std::vector<unsigned char> whole = filled(4096 + 1 + 70001, 2);
            std::vector<unsigned char> s0(whole.begin(), whole.begin() + 4096);
            std::vector<unsigned char> s1(whole.begin() + 4096, whole.begin() + 4097);
            std::vector<unsigned char> s2(whole.begin() + 4097, whole.end());
            tl::bulk multi = engine.expose({{s0.data(), s0.size()}, {s1.data(), s1.size()}, {s2.data(), s2.size()}},
                                           tl::bulk_mode::read_only);
            check(multi.size() == whole.size() && multi.segment_count() == 3, "expose 3 segments: size and count");
            auto [o, sum, seen, segs] = pull_on_server(multi, 0, whole.size());
            check(o.code == 0 && o.moved == whole.size() && sum == sum_of(whole, 0, whole.size()) && segs == 3,
                  "the server pulled the 3 segments in order (it sees 3 segments)");
            auto [o2, sum2, seen2, segs2] = pull_on_server(multi, 4000, 200);
            check(o2.code == 0 && o2.moved == 200 && sum2 == sum_of(whole, 4000, 200),
                  "the server pulled 200 bytes across the segment boundaries");
            (void)seen;
            (void)seen2;
            (void)segs2;
        }

        /* Large: 9 MiB + 123, more than two 4 MiB pieces, both ways. */
        const std::size_t big_size = (std::size_t(9) << 20) + 123;
        {
            std::vector<unsigned char> big   = filled(big_size, 3);
            tl::bulk                   big_b = engine.expose({{big.data(), big.size()}}, tl::bulk_mode::read_only);
            auto [o, sum, seen, segs]        = pull_on_server(big_b, 0, big_size);
            check(o.code == 0 && o.moved == big_size && sum == sum_of(big, 0, big_size),
                  "the server pulled 9 MiB + 123 bytes (3 pieces), checksum agrees");
            (void)seen;
            (void)segs;
        }
        std::vector<unsigned char> dst(big_size, 0);
        tl::bulk dst_b = engine.expose({{dst.data(), dst.size()}}, tl::bulk_mode::write_only);
        {
            transfer_outcome o    = push_on_server(dst_b, 0, big_size, 5);
            bool             same = true;
            for(std::size_t i = 0; i < big_size && same; ++i) same = dst[i] == bulk_byte(i, 5);
            check(o.code == 0 && o.moved == big_size && same, "the server pushed 9 MiB + 123 bytes into a write_only bulk");
            o    = push_on_server(dst_b, 100, 50, 9);
            same = true;
            for(std::size_t i = 0; i < 400 && same; ++i)
                same = dst[i] == (i >= 100 && i < 150 ? bulk_byte(i - 100, 9) : bulk_byte(i, 5));
            check(o.code == 0 && o.moved == 50 && same, "the server pushed 50 bytes at offset 100, the bytes around unchanged");
        }

        /* What must fail. */
        {
            std::uint64_t before = sum_of(src, 0, src_size);
            check_refused(push_on_server(src_b, 0, 64, 4), HG_PERMISSION,
                          "a push into a read_only bulk throws HG_PERMISSION at the server");
            check(sum_of(src, 0, src_size) == before, "the read_only buffer is unchanged");
            check_refused(std::get<0>(pull_on_server(dst_b, 0, 64)), HG_PERMISSION,
                          "a pull from a write_only bulk throws HG_PERMISSION at the server");
            check_refused(std::get<0>(pull_on_server(src_b, src_size - 10, 100)), HG_INVALID_ARG,
                          "a pull of select(size - 10, 100) throws HG_INVALID_ARG");
            check_refused(std::get<0>(pull_on_server(src_b, src_size + 1, 1)), HG_INVALID_ARG,
                          "a pull of select(size + 1, 1) throws HG_INVALID_ARG");
            std::uint64_t tail = sum_of(dst, big_size - 200, 200);
            check_refused(push_on_server(dst_b, big_size - 10, 100, 6), HG_INVALID_ARG,
                          "a push into select(size - 10, 100) throws HG_INVALID_ARG");
            check(sum_of(dst, big_size - 200, 200) == tail, "nothing was written past the refused range");
            auto [o, sum, seen, segs] = pull_on_server(tl::bulk(), 0, 10);
            check_refused(o, HG_INVALID_ARG, "a null bulk sent as an argument arrives null; a pull from it fails");
            check(seen == 0 && segs == 0, "the server sees the null bulk's size 0");
            (void)sum;
        }

        /* A bulk returned by an RPC: the server's BLOB. */
        {
            tl::bulk blob = get_blob.on(server)();
            check(blob.size() == BLOB_SIZE && blob.segment_count() == 2,
                  "get_blob returned a bulk of the server's 5 MiB + 17 in 2 segments");
            std::vector<unsigned char> mem(BLOB_SIZE, 0);
            tl::bulk lb = engine.expose({{mem.data(), mem.size()}}, tl::bulk_mode::read_write);
            std::size_t n = blob.on(server) >> lb;
            check(n == BLOB_SIZE && mem == filled(BLOB_SIZE, 77), "remote_bulk >> bulk: pulled the whole BLOB");
            for(std::size_t i = 1000; i < 1000 + 300000; ++i) mem[i] = bulk_byte(i, 3);
            n = blob.on(server)(1000, 300000) << lb(1000, 300000);
            std::uint64_t remote_sum = blob_sum.on(server)(std::uint64_t(1000), std::uint64_t(300000));
            check(n == 300000 && remote_sum == sum_of(mem, 1000, 300000),
                  "remote_bulk(1000, 300000) << bulk(1000, 300000): the server's bytes agree");
            std::memset(mem.data(), 0, 8192);
            n = lb.select(0, 4096) << blob.on(server);
            /* The BLOB's bytes from 1000 on are the ones pushed above. */
            check(n == 4096 && mem[0] == bulk_byte(0, 77) && mem[4095] == bulk_byte(4095, 3) && mem[4096] == 0,
                  "bulk_segment << remote_bulk: pulled 4096 bytes (the smaller size)");
            n = blob.on(server) >> lb.select(0, 100).select(90, 50);
            check(n == 10, "a sub-segment past its segment's end is cut to it (10 bytes moved)");
            n = blob.on(server).select(BLOB_SIZE - 10, 100) >> lb;
            check(n == 10, "remote_bulk::select past the end is cut to the remote size (10 bytes moved)");
            std::vector<unsigned char> mem2(BLOB_SIZE, 0);
            tl::bulk      lb2 = engine.expose({{mem2.data(), mem2.size()}}, tl::bulk_mode::write_only);
            tl::async_bulk_op op = blob.on(server).pull_to(lb2);
            std::size_t   got = op.wait();
            check(got == BLOB_SIZE && sum_of(mem2, 0, BLOB_SIZE) == blob_sum.on(server)(std::uint64_t(0), BLOB_SIZE).as<std::uint64_t>(),
                  "remote_bulk::pull_to + async_bulk_op::wait: the whole BLOB");
            /* A push_from polled with test() until done, then waited for. */
            for(std::size_t i = 0; i < 200000; ++i) mem[i] = bulk_byte(i, 5);
            tl::async_bulk_op push = blob.on(server)(0, 200000).push_from(lb(0, 200000));
            while(!push.test()) {}
            check(push.test() && push.wait() == 200000
                      && blob_sum.on(server)(std::uint64_t(0), std::uint64_t(200000)).as<std::uint64_t>()
                             == sum_of(mem, 0, 200000),
                  "remote_bulk::push_from polled with async_bulk_op::test, then waited for");
            bool threw = false;
            try {
                push.wait();
            } catch(const tl::exception&) { threw = true; }
            check(threw, "async_bulk_op::wait a second time throws");
            /* One never waited for: its destructor waits, so mem2 is whole after the scope. */
            std::fill(mem2.begin(), mem2.end(), 0);
            { tl::async_bulk_op dropped = blob.on(server).pull_to(lb2); }
            check(sum_of(mem2, 0, BLOB_SIZE) == blob_sum.on(server)(std::uint64_t(0), BLOB_SIZE).as<std::uint64_t>(),
                  "an async_bulk_op destroyed without wait() finishes its transfer first");
            expect_margo_error([&] { blob.on(server).push_from(lb2); }, HG_PERMISSION,
                               "push_from a write_only local bulk throws HG_PERMISSION at once");
            n = blob.on(server).timed(std::chrono::seconds(30)) >> lb2;
            check(n == BLOB_SIZE, "remote_bulk::timed(30 s) >> bulk");
            expect_margo_error([&] { blob.on(server) >> lb.select(BLOB_SIZE - 10, 100); }, HG_INVALID_ARG,
                               "a pull into a local selection past the end throws HG_INVALID_ARG");
            expect_margo_error([&] { src_b.on(engine.self()) << lb; }, HG_PERMISSION,
                               "a push into our own read_only bulk throws HG_PERMISSION");
        }

        /* Bulks inside a user type and a vector, sent and returned. */
        {
            tagged_bulk t;
            t.b   = src_b;
            t.tag = "src";
            auto [back, count, total, nulls] = echo.on(server)(t, std::vector<tl::bulk>{dst_b, tl::bulk(), src_b})
                                                   .as<tagged_bulk, std::uint64_t, std::uint64_t, std::uint64_t>();
            check(back.tag == "src" && back.b.size() == src_size && count == 3 && total == big_size + src_size
                      && nulls == 1,
                  "a bulk in a user type and a vector of bulks (one null) go and come back");
            std::vector<unsigned char> copy(64, 0);
            tl::bulk                   cb = engine.expose({{copy.data(), copy.size()}}, tl::bulk_mode::write_only);
            std::size_t                n  = back.b.on(engine.self()).select(100, 64) >> cb;
            check(n == 64 && std::equal(copy.begin(), copy.end(), src.begin() + 100),
                  "the returned bulk names our memory: pulled 64 bytes from it");
        }

        /* A stashed bulk: usable while a copy lives here, refused once all are gone. */
        {
            std::vector<unsigned char> small = filled(64, 8);
            tl::bulk keep = engine.expose({{small.data(), small.size()}}, tl::bulk_mode::read_only);
            check(stash.on(server)(keep).as<std::uint64_t>() == 64, "stash a bulk at the server");
            transfer_outcome o = late.on(server)();
            check(o.code == 0 && o.moved == 16, "the server pulls from the stashed bulk while we hold it");
            {
                tl::bulk tmp  = engine.expose({{small.data(), small.size()}}, tl::bulk_mode::read_only);
                tl::bulk copy = tmp;
                check(stash.on(server)(copy).as<std::uint64_t>() == 64, "stash another, then drop every copy");
            }
            check_refused(late.on(server)(), HG_NOENTRY, "the owner refuses a transfer from a freed bulk: HG_NOENTRY");
        }

        /* Hostile input bytes for "pull": a bulk index not sent, a count larger than what follows. */
        {
            margo_instance_id mid = engine.get_margo_instance();
            hg_id_t           id  = margo_provider_register_name(mid, "pull", raw_input_proc, raw_output_proc, nullptr,
                                                                 4321, ABT_POOL_NULL);
            hg_handle_t       h   = HG_HANDLE_NULL;
            check(id != 0 && margo_create(mid, server.get_addr(), id, &h) == HG_SUCCESS, "a raw margo handle for \"pull\"");
            struct attempt_case {
                std::uint32_t index;
                std::uint64_t count;
                const char*   expect;
                const char*   what;
            };
            const attempt_case cases[] = {
                {5, 1, "bulk #5", "an input naming bulk #5 with one bulk sent: the handler's decode error"},
                {0, 2, "HG_PROTOCOL_ERROR", "an input announcing 2 bulks and carrying 1: HG_PROTOCOL_ERROR"},
            };
            for(const attempt_case& c : cases) {
                raw_input in;
                put_u64(in.bytes, c.index, 4);
                put_u64(in.bytes, 0);
                put_u64(in.bytes, 16);
                in.count        = c.count;
                in.handle       = src_b.get_bulk();
                hg_return_t ret = margo_provider_forward_timed(0, h, &in, 10000.0);
                raw_answer  answer;
                bool        got = ret == HG_SUCCESS && margo_get_output(h, &answer) == HG_SUCCESS;
                std::string text(answer.bytes, got ? static_cast<std::size_t>(answer.size) : 0);
                check(got && !text.empty() && text[0] == 1 && text.find(c.expect) != std::string::npos, c.what);
                if(got) margo_free_output(h, &answer);
            }
            margo_destroy(h);
            margo_deregister(mid, id);
            auto [o, sum, seen, segs] = pull_on_server(src_b, 0, 16);
            check(o.code == 0 && sum == sum_of(src, 0, 16), "the server still pulls after bad input");
            (void)seen;
            (void)segs;
        }

        engine.shutdown_remote_engine(server);
        check(true, "engine::shutdown_remote_engine");
    } catch(const tl::exception& ex) {
        check(false, std::string("unexpected thallium exception: ") + ex.what());
    }

    std::cout << "thallium-bulk-client: "
              << (failures ? std::to_string(failures) + " check(s) failed" : "all checks passed") << std::endl;
    return failures;
}
