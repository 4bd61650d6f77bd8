/*
 * thallium-abt: thallium's Argobots wrappers in a service, one engine
 * calling itself.
 *
 *   thallium-abt PROTOCOL
 *
 * The handlers run on a pool with a single execution stream. A "wait"
 * handler blocks on a thallium::eventual<int> that a later "set" request on
 * the same pool sets; "add" handlers update a counter under a
 * std::lock_guard<thallium::mutex>; a handler starts threads on its own pool
 * (pool::make_thread) and joins them; a condition_variable with a
 * predicate and a timeout, a barrier, a rwlock, a recursive_mutex,
 * eventual<void>, anonymous threads, thread::sleep, the exception a
 * misuse throws; streams and a pool of the program's own (xstream::create,
 * pool::create) running threads, tasklets and an RPC. Prints one line per check; exits with the number of
 * failed checks.
 */
#include <thallium.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

namespace tl = thallium;

static int failures = 0;

static void check(bool cond, const std::string& what) {
    std::cout << (cond ? "ok: " : "FAIL: ") << what << std::endl;
    if(!cond) ++failures;
}

int main(int argc, char** argv) {
    std::string protocol = argc > 1 ? argv[1] : "na+sm";
    /* One handler execution stream: a handler that kept its stream while
     * blocked would stop every other handler. */
    tl::engine engine(protocol, THALLIUM_SERVER_MODE, false, 1);
    {
        tl::eventual<int> value;
        tl::mutex         m;
        long              counter = 0;

        auto wait = engine.define("tl_wait", [&](const tl::request& req) { req.respond(value.wait()); });
        auto set  = engine.define("tl_set", [&](const tl::request& req, int v) {
            value.set_value(v);
            req.respond();
        });
        auto add  = engine.define("tl_add", [&](const tl::request& req) {
            for(int i = 0; i < 1000; i++) {
                std::lock_guard<tl::mutex> guard(m);
                long v = counter;
                if(i % 100 == 0) tl::thread::yield();
                counter = v + 1;
            }
            req.respond();
        });
        auto spawn = engine.define("tl_spawn", [&](const tl::request& req) {
            tl::pool           pool = engine.get_handler_pool();
            tl::mutex          sum_lock;
            int                sum = 0;
            std::vector<tl::managed<tl::thread>> threads;
            for(int i = 1; i <= 4; i++)
                threads.push_back(pool.make_thread([&, i]() {
                    std::lock_guard<tl::mutex> g(sum_lock);
                    sum += i;
                }));
            for(auto& t : threads) t->join();
            req.respond(sum);
        });
        tl::endpoint self = engine.self();

        auto pending = wait.on(self).async();
        set.on(self)(7);
        int got = pending.wait();
        check(got == 7, "a handler blocked on eventual<int> was woken by a later request on the same stream");

        std::vector<tl::async_response> adds;
        for(int i = 0; i < 8; i++) adds.push_back(add.on(self).async());
        for(auto& a : adds) a.wait();
        check(counter == 8000, "8 handlers x 1000 increments under lock_guard<thallium::mutex> = 8000");

        int sum = spawn.on(self)();
        check(sum == 10, "a handler's 4 threads on its own one-stream pool ran and were joined (sum 10)");

        /* condition_variable with a predicate, from threads on the pool. */
        tl::pool               pool = engine.get_handler_pool();
        tl::mutex              cm;
        tl::condition_variable cv;
        bool                   flag = false, seen = false;
        {
            auto waiter = pool.make_thread([&]() {
                std::unique_lock<tl::mutex> lock(cm);
                cv.wait(lock, [&] { return flag; });
                seen = true;
            });
            auto setter = pool.make_thread([&]() {
                std::unique_lock<tl::mutex> lock(cm);
                flag = true;
                cv.notify_all();
            });
        } /* managed<thread> joins at destruction */
        check(seen, "condition_variable::wait(lock, predicate) saw the flag");
        {
            std::unique_lock<tl::mutex> lock(cm);
            auto                        t0 = std::chrono::steady_clock::now();
            bool notified = cv.wait_for(lock, std::chrono::milliseconds(20));
            auto waited   = std::chrono::steady_clock::now() - t0;
            check(!notified && waited >= std::chrono::milliseconds(15), "wait_for times out after about 20 ms");
            check(lock.owns_lock() && !cm.try_lock(), "the mutex is held again after the timeout");
        }

        /* barrier of three: two threads and main. */
        tl::barrier      b(3);
        std::atomic<int> arrived{0};
        std::atomic<int> early{0};
        {
            auto t1 = pool.make_thread([&]() { arrived++; b.wait(); if(arrived < 3) early++; });
            auto t2 = pool.make_thread([&]() { arrived++; b.wait(); if(arrived < 3) early++; });
            arrived++;
            b.wait();
        }
        check(early == 0 && b.get_num_waiters() == 3, "barrier: nobody passed before all three arrived");

        tl::rwlock rw;
        rw.rdlock();
        rw.rdlock();
        rw.unlock();
        rw.unlock();
        rw.wrlock();
        rw.unlock();
        try {
            rw.unlock();
            check(false, "unlocking a free rwlock throws");
        } catch(const tl::abt_exception& e) {
            check(e.error() == ABT_ERR_RWLOCK, std::string("unlocking a free rwlock throws: ") + e.what());
        }

        tl::recursive_mutex rm;
        rm.lock();
        rm.lock();
        rm.unlock();
        rm.unlock();
        check(true, "recursive_mutex locked twice by its owner");

        tl::eventual<void> done;
        pool.make_thread([&]() { done.set_value(); }, tl::anonymous{});
        done.wait();
        check(done.test(), "eventual<void> set by an anonymous thread");

        auto t0 = std::chrono::steady_clock::now();
        tl::thread::sleep(engine, 10.0);
        check(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(9), "thread::sleep(engine, 10 ms)");

        value.reset();
        check(!value.test(), "eventual::reset");

        tl::mutex          m1;
        tl::mutex          m2(std::move(m1));
        tl::eventual<int>  e1;
        tl::eventual<int>  e2(std::move(e1));
        tl::rwlock         r1;
        tl::rwlock         r2;
        r2 = std::move(r1);
        check(m1.native_handle() == ABT_MUTEX_NULL && m2.native_handle() != ABT_MUTEX_NULL
                  && e1.native_handle() == ABT_EVENTUAL_NULL && r1.native_handle() == ABT_RWLOCK_NULL
                  && r2.native_handle() != ABT_RWLOCK_NULL,
              "moves hand the Argobots handle over");
        m2.lock();
        m2.unlock();

        /* A future of three compartments filled by three threads: its
         * callback sees the three values, then wait() returns. */
        {
            int                 values[3] = {1, 20, 300};
            std::atomic<int>    seen{0};
            tl::future<int>     f(3, [&seen](const std::vector<int*>& v) {
                int sum = 0;
                for(int* p : v) sum += *p;
                seen = sum;
            });
            std::vector<tl::managed<tl::thread>> setters;
            for(int i = 0; i < 3; i++) setters.push_back(pool.make_thread([&f, &values, i]() { f.set(&values[i]); }));
            f.wait();
            check(f.test() && seen == 321, "future<int>: three setters, the callback, then wait()");
            for(auto& t : setters) t->join();
            tl::future<int> plain(1);
            check(!plain.test(), "a future without a callback is not ready until set");
            plain.set(&values[0]);
            plain.wait();
            check(static_cast<bool>(plain), "... and ready once set");
        }

        /* Streams and pools of the program's own: xstream::create over a
         * pool::create pool, threads and tasklets on them, an RPC served on
         * that pool. */
        {
            tl::managed<tl::pool>                 own = tl::pool::create(tl::pool::access::mpmc);
            std::vector<tl::managed<tl::xstream>> streams;
            for(int i = 0; i < 2; i++) streams.push_back(tl::xstream::create(tl::scheduler::predef::basic_wait, *own));
            streams.push_back(tl::xstream::create());
            std::vector<int>                      ranks(6, -1);
            std::vector<std::uint64_t>            ids(6, 0);
            std::vector<tl::managed<tl::thread>>  threads;
            std::vector<tl::managed<tl::task>>    tasks;
            for(int i = 0; i < 3; i++) {
                threads.push_back(own->make_thread([&, i]() {
                    ranks[i] = tl::xstream::self_rank();
                    ids[i]   = tl::thread::self_id();
                }));
                tasks.push_back(streams[2]->make_task([&, i]() {
                    ranks[3 + i] = tl::xstream::self().get_rank();
                    ids[3 + i]   = tl::task::self_id();
                }));
            }
            for(auto& t : threads) t->join();
            for(auto& t : tasks) t->join();
            int r0 = streams[0]->get_rank(), r1 = streams[1]->get_rank(), r2 = streams[2]->get_rank();
            bool on_own = true;
            for(int i = 0; i < 3; i++) on_own = on_own && (ranks[i] == r0 || ranks[i] == r1) && ranks[3 + i] == r2;
            check(on_own, "threads ran on the pool's two streams, tasklets on the third (xstream::self_rank, get_rank)");
            std::vector<std::uint64_t> sorted = ids;
            std::sort(sorted.begin(), sorted.end());
            check(std::unique(sorted.begin(), sorted.end()) == sorted.end() && sorted[0] != 0,
                  "each thread and tasklet has its own id (thread::self_id, task::self_id)");
            check(tl::xstream::self().is_primary() && tl::xstream::self_rank() == 0,
                  "main is on the primary stream, rank 0");
            check(streams[0]->get_main_pools().size() == 1 && streams[0]->get_main_pools()[0] == *own,
                  "xstream::get_main_pools");

            tl::auto_remote_procedure triple =
                engine.define("triple", [](const tl::request& req, int x) { req.respond(3 * x); }, 5, *own);
            check(triple.on(tl::provider_handle(engine.self(), 5))(14).as<int>() == 42,
                  "an RPC served on pool::create's pool by xstream::create's streams");
            for(auto& x : streams) x->join();
        } /* managed objects: streams freed, then the pool */
        check(true, "managed xstreams and pool released");
    }
    engine.finalize();
    std::cout << failures << " failure(s)" << std::endl;
    return failures;
}
