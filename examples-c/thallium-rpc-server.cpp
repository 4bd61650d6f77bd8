/*
 * thallium-rpc-server: thallium's RPC model (thallium.hpp) on a server.
 *
 *   thallium-rpc-server PROTOCOL ADDRESS_FILE
 *
 * Defines, on an engine with a progress thread and one RPC execution stream:
 *   "sum"      (int, int) -> int
 *   "describe" (string, vector<int>, labelled_point, map<string,int>,
 *               pair<int,string>, tuple<int,bool,double>) -> (int64 checksum,
 *               labelled_point moved by (1, 0.5), string)
 *   "whoami"   () -> the caller's address, from request::get_endpoint()
 *   "slow"     (int ms) -> int: sleeps ms milliseconds first (for timeouts)
 *   "fail"     (string) -> the handler throws: the caller gets an error
 *   "later"    (string) -> string: a copy of the request is answered 50 ms
 *              later from another thread, after the handler returned
 * and a thallium::provider<counter> at COUNTER_PROVIDER_ID with
 *   "add"  (int64) -> int64 (a method returning its response)
 *   "bump" (int64) -> void  (a void method: its response is disabled)
 *   "get"  () -> int64      (a method responding through its request)
 * then prints its address, writes it to ADDRESS_FILE and waits until a
 * client shuts it down; exits 0.
 */
#include "thallium-rpc-types.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace tl = thallium;

class counter : public tl::provider<counter> {
    std::mutex   m_mutex;
    std::int64_t m_total = 0;

    std::int64_t add(std::int64_t v) {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_total += v;
        return m_total;
    }

    void bump(std::int64_t v) {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_total += v;
    }

    void get(const tl::request& req) {
        std::int64_t total;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            total = m_total;
        }
        req.respond(total);
    }

  public:
    counter(const tl::engine& e, std::uint16_t provider_id)
    : tl::provider<counter>(e, provider_id) {
        define("add", &counter::add, e.get_handler_pool());
        define("bump", &counter::bump);
        define("get", &counter::get);
    }
};

int main(int argc, char** argv) {
    if(argc != 3) {
        std::cerr << "usage: " << argv[0] << " PROTOCOL ADDRESS_FILE" << std::endl;
        return 2;
    }
    try {
        tl::engine engine(argv[1], THALLIUM_SERVER_MODE, true, 1);
        engine.enable_remote_shutdown();

        engine.define("sum", [](const tl::request& req, int a, int b) { req.respond(a + b); });

        engine.define("describe",
                      [](const tl::request& req, const std::string& name, const std::vector<int>& values,
                         labelled_point p, const std::map<std::string, int>& weights,
                         std::pair<int, std::string> tagged, const std::tuple<int, bool, double>& triple) {
                          std::int64_t checksum = static_cast<std::int64_t>(name.size());
                          for(int v : values) checksum += v;
                          for(const auto& kv : weights) checksum += kv.second * static_cast<int>(kv.first.size());
                          checksum += tagged.first + static_cast<std::int64_t>(tagged.second.size());
                          checksum += std::get<0>(triple) + (std::get<1>(triple) ? 1000 : 0);
                          p.x += 1;
                          p.y += 0.5;
                          p.label = name + ":" + p.label;
                          req.respond(checksum, p, std::string("described ") + name);
                      });

        engine.define("whoami", [](const tl::request& req) {
            req.respond(static_cast<std::string>(req.get_endpoint()));
        });

        engine.define("slow", [](const tl::request& req, int ms) {
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            req.respond(ms);
        });

        engine.define("fail", [](const tl::request&, const std::string& why) -> void {
            throw std::runtime_error("refused: " + why);
        });

        std::mutex               later_mutex;
        std::vector<std::thread> later_threads;
        engine.define("later", [&](const tl::request& req, const std::string& what) {
            std::lock_guard<std::mutex> lock(later_mutex);
            later_threads.emplace_back([req, what]() {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                req.respond("later: " + what);
            });
        });

        counter provider(engine, COUNTER_PROVIDER_ID);

        const std::string address = engine.self();
        std::cout << address << std::endl;
        const std::string path = argv[2];
        const std::string tmp  = path + ".tmp";
        {
            std::ofstream out(tmp);
            out << address << "\n";
            if(!out.good()) {
                std::cerr << "thallium-rpc-server: could not write " << tmp << std::endl;
                return 1;
            }
        }
        if(std::rename(tmp.c_str(), path.c_str()) != 0) {
            std::perror(path.c_str());
            return 1;
        }

        engine.wait_for_finalize();
        std::cerr << "thallium-rpc-server: finalized" << std::endl;
        for(auto& t : later_threads) t.join();
    } catch(const tl::exception& ex) {
        std::cerr << "thallium-rpc-server: " << ex.what() << std::endl;
        return 1;
    }
    return 0;
}
