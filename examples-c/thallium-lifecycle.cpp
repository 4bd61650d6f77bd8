/*
 * thallium-lifecycle: ownership and lifetime rules of thallium.hpp, in one
 * process, against the real library.
 *
 *   thallium-lifecycle PROTOCOL
 *
 * Covers: engine copies, endpoints outliving their engine, explicit
 * finalize / finalize_and_wait / wait_for_finalize, wrapping a margo
 * instance created in C (with and without take_ownership), a server engine
 * shut down remotely by a client engine of the same process, and the errors
 * thrown for null objects and bad arguments. A margo logger counts error
 * messages: outside the checks that expect one, margo must log none (an
 * error there means the header misused the C API, e.g. finalized twice or
 * released a reference it did not hold). Exits with the number of failed
 * checks (0 = success).
 */
#include <thallium.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <string>
#include <thread>

namespace tl = thallium;

static int              failures = 0;
static std::atomic<int> margo_errors{0};

static void check(bool cond, const std::string& what) {
    std::cout << (cond ? "ok: " : "FAIL: ") << what << std::endl;
    if(!cond) ++failures;
}

static void count_error(void*, const char* message) {
    ++margo_errors;
    std::cerr << "[margo error] " << message << std::endl;
}
static void print_other(void*, const char* message) {
    std::cerr << "[margo] " << message << std::endl;
}

/* Runs f and checks that margo logged no error meanwhile. */
template <typename F> static void no_margo_error(const std::string& what, F&& f) {
    const int before = margo_errors.load();
    try {
        f();
    } catch(const std::exception& ex) {
        check(false, what + ": unexpected exception: " + ex.what());
        return;
    }
    check(margo_errors.load() == before, what + " (no margo error logged)");
}

template <typename E, typename F> static bool throws(F&& f) {
    try {
        f();
    } catch(const E&) {
        return true;
    } catch(...) {
        return false;
    }
    return false;
}

int main(int argc, char** argv) {
    if(argc != 2) {
        std::cerr << "usage: " << argv[0] << " PROTOCOL" << std::endl;
        return 2;
    }
    const std::string protocol = argv[1];

    margo_logger logger = {nullptr,      print_other, print_other, print_other,
                           print_other, count_error, count_error};
    margo_set_global_logger(&logger);

    no_margo_error("engine copies and endpoints", [&] {
        tl::endpoint outliving;
        {
            tl::engine e(protocol, THALLIUM_SERVER_MODE);
            tl::engine copy = e;
            tl::engine moved(std::move(copy));
            check(moved == e && moved.get_margo_instance() == e.get_margo_instance(),
                  "copies share the margo instance");
            check(e.is_listening(), "server engine listens");
            tl::endpoint self = e.self();
            const std::string addr = self;
            check(addr.rfind(protocol + "://", 0) == 0, "self address " + addr);
            tl::endpoint again = e.lookup(addr);
            check(again == self, "lookup(self) == self");
            tl::endpoint copy_ep = again;
            tl::endpoint assigned;
            assigned = copy_ep;
            check(assigned == self && std::string(assigned) == addr, "endpoint copy and assignment");
            hg_addr_t raw = self.get_addr(true);
            check(raw != HG_ADDR_NULL && raw != self.get_addr(), "get_addr(true) duplicates");
            margo_addr_free(e.get_margo_instance(), raw);
            tl::endpoint wrapped(e, self.get_addr(), false);
            check(wrapped == self, "endpoint(engine, addr, take_ownership=false)");
            tl::provider_handle ph(e, self.get_addr(true), 3);
            check(ph.provider_id() == 3 && ph == self, "provider_handle(engine, addr, id)");
            check(!e.get_handler_pool().is_null() && !e.get_progress_pool().is_null(), "pools");
            check(e.get_config().find("progress_pool") != std::string::npos, "get_config");
            auto primary = e.pools()["__primary__"];
            check(primary.name() == "__primary__" && !primary.is_null()
                      && e.pools()[primary.index()].native_handle() == primary.native_handle()
                      && e.pools().size() >= 1,
                  "engine::pools() by name and index");
            check(throws<tl::margo_exception>([&] { e.pools()["no such pool"]; }), "engine::pools() of an unknown name throws");
            outliving = again;
        }
        /* Every engine copy is gone; the endpoint keeps the state alive. */
        check(!std::string(outliving).empty(), "endpoint outlives its engine objects");
        check(static_cast<bool>(outliving.get_engine()), "endpoint::get_engine after the engine is gone");
    });

    no_margo_error("explicit finalize, twice, then endpoints released", [&] {
        tl::engine   e(protocol, THALLIUM_CLIENT_MODE);
        tl::endpoint self = e.self();
        e.finalize();
        e.finalize();
        e.wait_for_finalize();
    });

    no_margo_error("finalize_and_wait", [&] {
        tl::engine e(protocol, THALLIUM_SERVER_MODE, true, 2);
        e.finalize_and_wait();
    });

    no_margo_error("JSON config constructors", [&] {
        tl::engine a(protocol, THALLIUM_CLIENT_MODE, "{\"use_progress_thread\":true}");
        tl::engine b(protocol, THALLIUM_CLIENT_MODE, std::string("{}"));
        margo_init_info info{};
        tl::engine c(protocol, THALLIUM_CLIENT_MODE, &info);
        check(a && b && c, "engines from JSON and margo_init_info");
    });

    no_margo_error("wrapping a C instance without ownership", [&] {
        margo_instance_id mid = margo_init(protocol.c_str(), MARGO_CLIENT_MODE, 0, 0);
        check(mid != MARGO_INSTANCE_NULL, "margo_init");
        {
            tl::engine w(mid);
            tl::engine w2 = w;
            tl::endpoint ep = w2.self();
            check(!ep.is_null(), "self through the wrapper");
        }
        hg_addr_t   a   = HG_ADDR_NULL;
        hg_return_t ret = margo_addr_self(mid, &a);
        check(ret == HG_SUCCESS, "instance still usable after the wrappers are gone");
        if(ret == HG_SUCCESS) margo_addr_free(mid, a);
        margo_finalize(mid);
    });

    no_margo_error("wrapping a C instance with take_ownership", [&] {
        margo_instance_id mid = margo_init(protocol.c_str(), MARGO_CLIENT_MODE, 0, 0);
        tl::engine        w(mid, true);
        tl::endpoint      ep = w.self();
        check(!ep.is_null(), "self through the owning wrapper");
    });

    no_margo_error("remote shutdown within one process", [&] {
        tl::engine server(protocol, THALLIUM_SERVER_MODE);
        server.enable_remote_shutdown();
        const std::string addr = server.self();
        auto waiter = std::async(std::launch::async, [server]() mutable {
            server.wait_for_finalize();
        });
        tl::engine client(protocol, THALLIUM_CLIENT_MODE);
        client.shutdown_remote_engine(client.lookup(addr));
        bool done = waiter.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
        check(done, "wait_for_finalize returns after shutdown_remote_engine");
        if(!done) {
            std::cerr << "server did not finalize; aborting" << std::endl;
            std::_Exit(1);
        }
    });

    /* Errors. Null objects throw without calling margo. */
    no_margo_error("null objects", [&] {
        tl::engine   null_engine;
        tl::endpoint null_ep;
        check(!null_engine && null_engine.get_margo_instance() == MARGO_INSTANCE_NULL, "null engine");
        check(throws<tl::exception>([&] { null_engine.self(); }), "null engine: self() throws");
        check(throws<tl::exception>([&] { null_engine.lookup("x"); }), "null engine: lookup() throws");
        check(throws<tl::exception>([&] { null_engine.finalize(); }), "null engine: finalize() throws");
        check(null_ep.is_null() && std::string(null_ep).empty() && !null_ep.get_engine(), "null endpoint");
        check(tl::pool().is_null() && !tl::pool(), "null pool");
    });

    {
        const int before = margo_errors.load();
        check(throws<tl::margo_exception>([&] { tl::engine e("no-such-protocol", THALLIUM_SERVER_MODE); }),
              "engine with an unknown protocol throws margo_exception");
        check(throws<tl::margo_exception>([&] { tl::engine e(protocol, THALLIUM_CLIENT_MODE, "{not json"); }),
              "engine with a malformed JSON config throws margo_exception");
        tl::engine e(protocol, THALLIUM_CLIENT_MODE);
        try {
            e.lookup(protocol + "://garbage");
            check(false, "lookup of garbage throws");
        } catch(const tl::margo_exception& ex) {
            const std::string what = ex.what();
            check(ex.error() != HG_SUCCESS && ex.function() == "margo_addr_lookup"
                      && what.find("margo_addr_lookup") != std::string::npos,
                  "lookup of garbage throws margo_exception naming margo_addr_lookup: " + what);
        }
        check(throws<tl::exception>([&] { e.shutdown_remote_engine(tl::endpoint()); }),
              "shutdown_remote_engine(null endpoint) throws");
        check(margo_errors.load() > before, "margo logged the expected errors");
    }

    {
        /* Finalize callbacks and timed callbacks. */
        std::atomic<int> ran{0}, fired{0};
        {
            tl::engine e(protocol, THALLIUM_SERVER_MODE);
            int        owner = 0;
            e.push_finalize_callback([&]() { ran += 1; });
            e.push_finalize_callback(&owner, [&]() { ran += 100; });
            e.push_prefinalize_callback(&owner, [&]() { ran += 10000; });
            check(static_cast<bool>(e.pop_prefinalize_callback(&owner)), "pop_prefinalize_callback gives the newest back");
            check(!e.pop_finalize_callback(&failures), "pop_finalize_callback of an owner without one: empty");
            auto t = e.create_timed_callback([&]() { fired++; });
            t.start(5.0);
            check(throws<tl::exception>([&] { t.start(5.0); }), "timed_callback::start while pending throws");
            for(int i = 0; i < 200 && fired.load() == 0; i++) tl::thread::sleep(e, 5.0);
            check(fired.load() == 1, "timed_callback fired once");
            t.start(60000.0);
            t.cancel();
            e.finalize();
        }
        check(ran.load() == 101, "the two remaining finalize callbacks ran at finalize, the popped one did not");
        check(fired.load() == 1, "a cancelled timed_callback did not fire");
    }

    std::cout << "thallium-lifecycle: "
              << (failures ? std::to_string(failures) + " check(s) failed" : "all checks passed")
              << std::endl;
    return failures;
}
