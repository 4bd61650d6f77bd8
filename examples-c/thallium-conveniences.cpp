/*
 * thallium-conveniences: the helpers thallium programs lean on beyond
 * define/call, one process.
 *
 *   thallium-conveniences PROTOCOL
 *
 * auto_respond (answers when the handler's scope ends, also after the
 * handler finalized its engine: the finalize waits for it), auto_remote_procedure
 * (deregistered with its scope), async_response::wait_any over calls that
 * answer out of order, packed_data::unpack(x...), a type serialized by a free
 * serialize(ar, x) and one by free save/load using save_ptr/restore_ptr,
 * multimap, forward_list and complex, serialization contexts,
 * request::get_input() after a handler that declared only its first
 * argument, a logger, timer, engine::xstreams() with references, and
 * engine::top_finalize_callback.
 * Prints one line per check; exits with the number of failed checks.
 */
#include <thallium.hpp>
#include <thallium/serialization/stl/string.hpp>
#include <thallium/serialization/stl/complex.hpp>
#include <thallium/serialization/stl/forward_list.hpp>
#include <thallium/serialization/stl/multimap.hpp>
#include <thallium/serialization/stl/vector.hpp>

#include <atomic>
#include <complex>
#include <cstring>
#include <forward_list>
#include <map>
#include <iostream>
#include <string>
#include <vector>

namespace tl = thallium;

static int failures = 0;

static void check(bool cond, const std::string& what) {
    std::cout << (cond ? "ok: " : "FAIL: ") << what << std::endl;
    if(!cond) ++failures;
}

namespace geometry {
/* Serialized by a free function found beside it (no member). */
struct point {
    double x = 0, y = 0;
};
template <typename A> void serialize(A& ar, point& p) {
    ar & p.x;
    ar & p.y;
}

/* Serialized by free save/load, writing its bytes in place. */
struct tag {
    char text[8] = {0};
};
template <typename A> void save(A& ar, const tag& t) {
    char* out = static_cast<char*>(ar.save_ptr(sizeof t.text));
    std::memcpy(out, t.text, sizeof t.text);
    ar.restore_ptr(out, sizeof t.text);
}
template <typename A> void load(A& ar, tag& t) {
    const char* in = static_cast<const char*>(ar.save_ptr(sizeof t.text));
    std::memcpy(t.text, in, sizeof t.text);
    ar.restore_ptr(const_cast<char*>(in), sizeof t.text);
}
} // namespace geometry

/* Written scaled by the factor its serialization context holds. */
struct scaled {
    double value = 0;
    template <typename A> void serialize(A& ar) {
        const double factor = std::get<0>(ar.get_context());
        double       wire   = value * factor;
        ar & wire;
        value = wire / factor;
    }
};

/* Counts what the logger was given. */
struct counting_logger : public tl::logger {
    mutable std::atomic<int> seen{0};
    void trace(const char*) const override { ++seen; }
    void debug(const char*) const override { ++seen; }
    void info(const char*) const override { ++seen; }
    void warning(const char*) const override { ++seen; }
    void error(const char*) const override { ++seen; }
    void critical(const char*) const override { ++seen; }
};

int main(int argc, char** argv) {
    const std::string protocol = argc > 1 ? argv[1] : "na+sm";
    try {
        tl::engine e(protocol, THALLIUM_SERVER_MODE, false, 2);
        tl::endpoint self = e.self();

        /* auto_respond: the response goes out as the handler returns. */
        e.define("midpoint", [](const tl::request& req, const geometry::point& a, const geometry::point& b) {
            geometry::point m;
            tl::auto_respond<geometry::point> answer{req, m};
            m.x = (a.x + b.x) / 2;
            m.y = (a.y + b.y) / 2;
        });
        geometry::point mid = e.define("midpoint").on(self)(geometry::point{0, 0}, geometry::point{4, 2});
        check(mid.x == 2 && mid.y == 1, "auto_respond, and a type with a free serialize()");

        /* unpack(x...) and free save/load with save_ptr/restore_ptr. */
        e.define("echo_tag", [](const tl::request& req, const geometry::tag& t, int n) { req.respond(t, n + 1); });
        geometry::tag t;
        std::strcpy(t.text, "mochi");
        geometry::tag back;
        int           n = 0;
        e.define("echo_tag").on(self)(t, 41).unpack(back, n);
        check(std::strcmp(back.text, "mochi") == 0 && n == 42, "unpack(x, y); free save/load using save_ptr/restore_ptr");

        /* More standard types: multimap, forward_list, complex. */
        e.define("mirror", [](const tl::request& req, const std::multimap<int, std::string>& m,
                              const std::forward_list<int>& l, const std::complex<double>& c) { req.respond(m, l, c); });
        std::multimap<int, std::string> mm{{1, "a"}, {1, "b"}, {2, "c"}}, mm2;
        std::forward_list<int>          fl{3, 1, 4}, fl2;
        std::complex<double>            cx(1.5, -2.0), cx2;
        e.define("mirror").on(self)(mm, fl, cx).unpack(mm2, fl2, cx2);
        check(mm2 == mm && fl2 == fl && cx2 == cx, "multimap, forward_list and complex round trip");

        /* Serialization contexts: the argument goes out scaled by 10, the
         * handler reads it with 10 and answers with 100. */
        e.define("ctx_echo", [](const tl::request& req) {
            scaled in = req.get_input().with_serialization_context(10.0).as<scaled>();
            req.with_serialization_context(100.0).respond(in);
        });
        auto   answer = e.define("ctx_echo").on(self).with_serialization_context(10.0)(scaled{2.5});
        double wire   = answer.as<double>();
        scaled unscaled = answer.with_serialization_context(100.0).as<scaled>();
        check(wire == 250.0 && unscaled.value == 2.5, "with_serialization_context on the call, the input, the response");

        /* A handler declaring only its first argument; get_input() reads all. */
        e.define("partial", [](const tl::request& req, int x) {
            int a = 0, b = 0;
            std::tie(a, b) = req.get_input().as<int, int>();
            req.respond(x == a ? a + b : -1);
        });
        check(e.define("partial").on(self)(40, 2).as<int>() == 42, "request::get_input() beyond the declared arguments");

        /* wait_any: calls that sleep 300, 10 and 100 ms answer 10, 100, 300. */
        e.define("nap", [&e](const tl::request& req, int ms) {
            tl::thread::sleep(e, ms);
            req.respond(ms);
        });
        tl::remote_procedure              nap = e.define("nap");
        std::vector<tl::async_response>   pending;
        for(int ms : {300, 10, 100}) pending.push_back(nap.on(self).async(ms));
        std::vector<int> order;
        while(!pending.empty()) {
            decltype(pending.begin()) done;
            int                       ms = tl::async_response::wait_any(pending.begin(), pending.end(), done);
            order.push_back(ms);
            pending.erase(done);
        }
        check(order == std::vector<int>({10, 100, 300}), "async_response::wait_any: in the order they answer");

        /* auto_remote_procedure: gone with its scope. */
        {
            tl::auto_remote_procedure scoped = e.define("scoped", [](const tl::request& req) { req.respond(7); });
            check(e.define("scoped").on(self)().as<int>() == 7, "auto_remote_procedure serves while in scope");
        }
        try {
            e.define("scoped").on(self)();
            check(false, "auto_remote_procedure deregistered with its scope");
        } catch(const tl::exception& ex) {
            check(true, std::string("auto_remote_procedure deregistered with its scope: ") + ex.what());
        }

        /* A logger for this engine; a timer. */
        counting_logger log;
        e.set_logger(&log);
        e.set_log_level(tl::logger::level::trace);
        margo_info(e.get_margo_instance(), "hello %d", 1);
        check(log.seen.load() >= 1, "engine::set_logger: messages reach the user's logger");
        e.set_logger(nullptr);
        e.set_log_level(tl::logger::level::warning);
        tl::timer clock;
        clock.start();
        tl::thread::sleep(e, 20);
        clock.stop();
        check(clock.read() >= 0.015 && tl::timer::wtime() > 0, "timer: start/stop/read, wtime");

        /* The engine's xstreams, with references. */
        auto xs = e.xstreams();
        check(xs.size() >= 2 && xs[0].name() == "__primary__", "engine::xstreams(): size and names");
        xs.ref_incr(1);
        check(xs.ref_count(1) == 1, "xstreams().ref_incr / ref_count");
        try {
            xs.remove(1);
            check(false, "a referenced xstream cannot be removed");
        } catch(const tl::margo_exception& ex) {
            check(ex.error() == HG_PERMISSION, "a referenced xstream cannot be removed (HG_PERMISSION)");
        }
        xs.release(1);
        check(xs.ref_count(1) == 0, "xstreams().release");

        /* The newest finalize callback can be read back. */
        int farewells = 0;
        e.push_finalize_callback([&farewells]() { farewells += 1; });
        std::function<void()> top = e.top_finalize_callback();
        check(static_cast<bool>(top), "engine::top_finalize_callback");
        top();
        check(farewells == 1, "the callback read back runs");

        /* A second engine whose handler finalizes it before answering: the
         * finalize waits until the handler has answered. */
        {
            tl::engine other(protocol, THALLIUM_SERVER_MODE);
            other.define("last_words", [&other](const tl::request& req) {
                std::string words;
                tl::auto_respond<std::string> answer{req, words};
                other.finalize();
                words = "goodbye";
            });
            std::string said = e.define("last_words").on(e.lookup(other.self()))().as<std::string>();
            other.wait_for_finalize();
            check(said == "goodbye", "a handler that finalizes its engine still answers (finalize waits for it)");
        }
        e.finalize();
        check(farewells == 2, "the finalize callback ran at finalize");
    } catch(const tl::exception& ex) {
        check(false, std::string("unexpected thallium exception: ") + ex.what());
    }
    std::cout << (failures ? std::to_string(failures) + " check(s) failed" : "all checks passed") << std::endl;
    return failures;
}
