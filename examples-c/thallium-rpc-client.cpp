/*
 * thallium-rpc-client: calls thallium-rpc-server's RPCs the thallium way.
 *
 *   thallium-rpc-client PROTOCOL SERVER_ADDRESS
 *
 * Checks: a plain RPC (implicit conversion and as<T>()), one with several
 * argument types and a user struct answered with several values, the
 * caller's address as the server sees it, the counter provider's methods
 * through a provider_handle (result returned, void with its response
 * disabled, request answered by hand), async calls, a timeout, errors
 * (a throwing handler, an RPC the server does not serve, a provider id
 * nobody serves, input too short for the handler, response bytes the
 * caller cannot decode), then shuts the server down. Prints one line per
 * check; exits with the number of failed checks.
 */
#include "thallium-rpc-types.hpp"

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace tl = thallium;

static int failures = 0;

/* Margo procs of our own, to send thallium's "sum" a lying input: a byte
 * buffer announcing *announced bytes and carrying 3, and to read the raw
 * answer (a u64 length and at most 4096 bytes). */
static hg_return_t lying_input_proc(hg_proc_t proc, void* announced) {
    if(hg_proc_get_op(proc) != HG_ENCODE) return HG_SUCCESS;
    std::uint64_t n   = *static_cast<std::uint64_t*>(announced);
    hg_return_t   ret = hg_proc_uint64_t(proc, &n);
    if(ret != HG_SUCCESS) return ret;
    char bytes[3] = {1, 2, 3};
    return hg_proc_raw(proc, bytes, sizeof bytes);
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

static void check(bool cond, const std::string& what) {
    std::cout << (cond ? "ok: " : "FAIL: ") << what << std::endl;
    if(!cond) ++failures;
}

/* Runs f, which must throw E; returns the message (empty if it did not). */
template <typename E, typename F> static std::string expect_throw(F&& f, const std::string& what) {
    try {
        f();
    } catch(const E& ex) {
        check(true, what + " (" + ex.what() + ")");
        return ex.what();
    } catch(const std::exception& ex) {
        check(false, what + ": wrong exception: " + ex.what());
        return std::string();
    }
    check(false, what + ": nothing thrown");
    return std::string();
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

        /* A plain RPC. */
        tl::remote_procedure sum = engine.define("sum");
        int                  s   = sum.on(server)(40, 2);
        check(s == 42, "sum(40, 2) == 42 (implicit conversion)");
        check(sum.on(server)(-7, 3).as<int>() == -4, "sum(-7, 3).as<int>() == -4");

        /* Several argument types and a user struct; several values back. */
        tl::remote_procedure describe = engine.define("describe");
        labelled_point       p;
        p.x     = 3;
        p.y     = 1.25;
        p.label = "origin";
        p.tags  = {1, 2, 3};
        std::map<std::string, int> weights{{"ab", 2}, {"xyz", 10}};
        auto answer = describe.on(server)(std::string("probe"), std::vector<int>{1, 2, 3, 4}, p, weights,
                                          std::make_pair(5, std::string("five")), std::make_tuple(6, true, 0.5));
        auto [checksum, moved, text] = answer.as<std::int64_t, labelled_point, std::string>();
        /* 5 + 10 + (2*2 + 10*3) + (5 + 4) + (6 + 1000) = 1064 */
        check(checksum == 1064, "describe: checksum over string, vector, map, pair, tuple == 1064 (got "
                                    + std::to_string(checksum) + ")");
        labelled_point expected = p;
        expected.x              = 4;
        expected.y              = 1.75;
        expected.label          = "probe:origin";
        check(moved == expected, "describe: the user struct comes back moved and relabelled");
        check(text == "described probe", "describe: the string response");

        /* request::get_endpoint on the server side. */
        std::string seen = engine.define("whoami").on(server)();
        check(seen == std::string(engine.self()), "whoami: the server sees our address (" + seen + ")");

        /* provider<T> through a provider_handle. */
        tl::provider_handle  counter(server, COUNTER_PROVIDER_ID);
        tl::remote_procedure add  = engine.define("add");
        tl::remote_procedure bump = engine.define("bump").disable_response();
        tl::remote_procedure get  = engine.define("get");
        check(add.on(counter)(std::int64_t(10)).as<std::int64_t>() == 10, "provider add(10) == 10");
        check(add.on(counter)(std::int64_t(5)).as<std::int64_t>() == 15, "provider add(5) == 15");
        for(int i = 0; i < 3; ++i) {
            tl::packed_data<> none = bump.on(counter)(std::int64_t(100));
            if(none.has_data()) check(false, "a bump with its response disabled returned data");
        }
        check(true, "provider void method bump x3 (response disabled)");
        /* The bumps were only queued: read the total until they are in. */
        std::int64_t total = 0;
        for(int i = 0; i < 200; ++i) {
            total = get.on(counter)();
            if(total == 315) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        check(total == 315, "provider get() after the bumps == 315 (got " + std::to_string(total) + ")");
        expect_throw<tl::exception>([&] { std::int64_t t = bump.on(counter)(std::int64_t(1)).as<std::int64_t>(); (void)t; },
                                    "converting the empty result of a response-disabled RPC throws");

        /* async. */
        auto r1 = sum.on(server).async(1, 2);
        auto r2 = add.on(counter).async(std::int64_t(1));
        int  a1 = r1.wait();
        check(a1 == 3, "async sum(1, 2): wait() == 3");
        check(r1.received(), "async: received() after wait()");
        /* 315, plus the 1 of the response-disabled call above, plus 1. */
        check(r2.wait().as<std::int64_t>() == 317, "async provider add(1) == 317");
        auto r3 = engine.define("slow").on(server).async(200);
        check(!r3.received(), "async slow(200): not received at once");
        check(r3.wait().as<int>() == 200, "async slow(200): wait() == 200");

        /* A request answered from another thread after its handler returned. */
        check(engine.define("later").on(server)(std::string("x")).as<std::string>() == "later: x",
              "a copy of the request answered later from another thread");

        /* Threads calling at once, each with its own callable. */
        {
            std::atomic<int>         wrong{0};
            std::vector<std::thread> threads;
            for(int t = 0; t < 4; ++t)
                threads.emplace_back([&, t]() {
                    try {
                        auto call = sum.on(server);
                        for(int i = 0; i < 50; ++i)
                            if(call(t, i).as<int>() != t + i) ++wrong;
                    } catch(const std::exception&) { ++wrong; }
                });
            for(auto& th : threads) th.join();
            check(wrong.load() == 0, "4 threads x 50 calls at once, all answered right");
        }

        /* A timeout. */
        tl::remote_procedure slow = engine.define("slow");
        expect_throw<tl::timeout>([&] { slow.on(server).timed(std::chrono::milliseconds(100), 1000); },
                                  "slow(1000) with a 100 ms timeout throws thallium::timeout");
        check(slow.on(server).timed(std::chrono::seconds(10), 1).as<int>() == 1, "slow(1) within 10 s");

        /* Errors. */
        std::string msg = expect_throw<tl::exception>([&] { engine.define("fail").on(server)(std::string("no")); },
                                                      "a handler that throws: the caller gets thallium::exception");
        check(msg.find("refused: no") != std::string::npos, "the handler's message reaches the caller");
        try {
            engine.define("nothing").on(server)();
            check(false, "an RPC the server does not serve throws");
        } catch(const tl::margo_exception& ex) {
            check(ex.error() == HG_NOENTRY && std::string(ex.what()).find("nothing") != std::string::npos,
                  std::string("an RPC the server does not serve: margo_exception HG_NOENTRY naming it (")
                      + ex.what() + ")");
        }
        try {
            add.on(tl::provider_handle(server, MISSING_PROVIDER_ID))(std::int64_t(1));
            check(false, "an unknown provider id throws");
        } catch(const tl::margo_exception& ex) {
            check(ex.error() == HG_NOENTRY, std::string("unknown provider id: margo_exception (") + ex.what() + ")");
        }
        msg = expect_throw<tl::exception>([&] { sum.on(server)(std::uint16_t(7)); },
                                          "arguments too short for the handler's parameters: thallium::exception");
        check(msg.find("sum") != std::string::npos, "the decode error names the RPC");
        /* Bytes beyond the handler's parameters are left for get_input(), as
         * upstream does (the server logs a warning when nothing reads them). */
        check(sum.on(server)(1, 2, 3).as<int>() == 3, "more arguments than parameters: the first ones are used");
        {
            /* Registered here under another provider id, so with our own
             * procs; forwarded to provider 0, where the server serves "sum". */
            margo_instance_id mid = engine.get_margo_instance();
            hg_id_t           id  = margo_provider_register_name(mid, "sum", lying_input_proc, raw_output_proc,
                                                                 nullptr, 1234, ABT_POOL_NULL);
            hg_handle_t       h   = HG_HANDLE_NULL;
            check(id != 0 && margo_create(mid, server.get_addr(), id, &h) == HG_SUCCESS,
                  "a raw margo handle for \"sum\"");
            for(std::uint64_t announced : {std::uint64_t(1) << 40, std::uint64_t(100000)}) {
                hg_return_t ret = margo_provider_forward_timed(0, h, &announced, 10000.0);
                raw_answer  answer_bytes;
                bool        got = ret == HG_SUCCESS && margo_get_output(h, &answer_bytes) == HG_SUCCESS;
                std::string text(answer_bytes.bytes, got ? static_cast<std::size_t>(answer_bytes.size) : 0);
                check(got && !text.empty() && text[0] == 1 && text.find("HG_PROTOCOL_ERROR") != std::string::npos,
                      "an input announcing " + std::to_string(announced)
                          + " bytes and carrying 3: the server answers HG_PROTOCOL_ERROR");
                if(got) margo_free_output(h, &answer_bytes);
            }
            margo_destroy(h);
            margo_deregister(mid, id);
        }
        check(sum.on(server)(2, 2).as<int>() == 4, "the server still answers after bad input");

        /* Hostile response bytes: decoding throws, never crashes. */
        expect_throw<tl::exception>([&] { sum.on(server)(1, 1).as<std::vector<std::string>>(); },
                                    "a response decoded as the wrong type throws");
        {
            std::vector<char> junk{'\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\x7f', 'a'};
            tl::input_archive ar(junk.data(), junk.size());
            std::string       out;
            expect_throw<tl::exception>([&] { ar & out; }, "a string of a huge length throws");
            tl::input_archive ar2(junk.data(), junk.size());
            std::map<int, labelled_point> m;
            expect_throw<tl::exception>([&] { ar2 & m; }, "a map of a huge count throws");
        }

        engine.shutdown_remote_engine(server);
        check(true, "engine::shutdown_remote_engine");
    } catch(const tl::exception& ex) {
        check(false, std::string("unexpected thallium exception: ") + ex.what());
    }

    std::cout << "thallium-rpc-client: "
              << (failures ? std::to_string(failures) + " check(s) failed" : "all checks passed") << std::endl;
    return failures;
}
