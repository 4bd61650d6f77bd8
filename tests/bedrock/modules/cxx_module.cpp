/*
 * cxx_module.cpp -- libtest-cxx-module.so: a Bedrock module written with
 * the C++ module API (bedrock/AbstractComponent.hpp), registered as
 * "test_cxx" through BEDROCK_REGISTER_COMPONENT_TYPE.
 *
 * Dependencies (GetDependencies):
 *   pool    pool      required   checked: thallium::pool and ABT_pool agree
 *   group   flock     optional   checked: by name, the upstream idiom
 *                                static_cast<flock_provider_t>(
 *                                  getHandle<ComponentPtr>()->getHandle())
 *                                gives a provider whose config has "group",
 *                                and getHandle<flock_provider_t>() agrees;
 *                                with a locator (name@local), a
 *                                thallium::provider_handle (id 1) and the
 *                                flock_provider_t from getHandle<>();
 *                                a group of another process (remote
 *                                locator) is reported with
 *                                "group_remote":true and its handle only
 *   margo   margo     optional   checked: same instance as args.engine;
 *                                required if the provider's config has
 *                                "need_margo": true (GetDependencies is
 *                                evaluated per provider)
 *   peer    test_cxx  optional   checked: getHandle<ComponentPtr>() is the
 *                                real C++ component (dynamic_pointer_cast)
 *   xs      xstream   optional   name only
 * Any failed check throws bedrock::Exception, which fails the provider's
 * creation with that message. A config containing "fail": true throws on
 * purpose ("test_cxx: asked to fail (<name>)").
 *
 * The provider's reported config records what was checked, e.g.
 *   {"module":"test_cxx","name":"my_cxx","provider_id":43,"tags":["a"],
 *    "pool":"__primary__","pool_ok":true,"group":"my_group",
 *    "group_provider_id":1,"group_ok":true,"margo":"0","margo_ok":true,
 *    "bad_cast_throws":true,"config":{...}}
 */
#include <bedrock/AbstractComponent.hpp>
#include <flock/flock-server.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string quote(const std::string& s) {
    std::string out = "\"";
    for(char c : s) {
        if(c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

} // namespace

class CxxComponent : public bedrock::AbstractComponent {
    std::string m_report;

  public:
    explicit CxxComponent(std::string report)
    : m_report(std::move(report)) {}

    static std::shared_ptr<bedrock::AbstractComponent>
    Register(const bedrock::ComponentArgs& args) {
        using bedrock::Exception;
        if(args.config.find("\"fail\":true") != std::string::npos)
            throw Exception("test_cxx: asked to fail ({})", args.name);
        if(!args.engine) throw Exception("test_cxx: null engine in ComponentArgs");

        std::ostringstream r;
        r << "{\"module\":\"test_cxx\",\"name\":" << quote(args.name)
          << ",\"provider_id\":" << args.provider_id << ",\"tags\":[";
        for(size_t i = 0; i < args.tags.size(); ++i)
            r << (i ? "," : "") << quote(args.tags[i]);
        r << "]";

        bool bad_cast_throws = false;

        /* pool (required) */
        auto pool_it = args.dependencies.find("pool");
        if(pool_it == args.dependencies.end() || pool_it->second.size() != 1)
            throw Exception("test_cxx: no \"pool\" dependency");
        {
            const auto& dep  = pool_it->second[0];
            auto        pool = dep->getHandle<thallium::pool>();
            if(dep->getType() != "pool") throw Exception("test_cxx: pool type is {}", dep->getType());
            if(pool.is_null()) throw Exception("test_cxx: null thallium::pool");
            if(dep->getHandle<ABT_pool>() != pool.native_handle())
                throw Exception("test_cxx: ABT_pool and thallium::pool differ");
            try {
                (void)dep->getHandle<std::string>();
            } catch(const Exception& ex) {
                bad_cast_throws = std::strstr(ex.what(), "Could not cast NamedDependency") != nullptr;
            }
            r << ",\"pool\":" << quote(dep->getName()) << ",\"pool_ok\":true";
        }

        /* group (optional flock provider) */
        auto group_it = args.dependencies.find("group");
        if(group_it != args.dependencies.end()) {
            if(group_it->second.size() != 1) throw Exception("test_cxx: \"group\" is not one provider");
            const auto&      dep      = group_it->second[0];
            flock_provider_t provider = nullptr;
            bool             remote   = false;
            if(dep->getName().find('@') == std::string::npos) {
                /* local provider by name: a ComponentPtr, as upstream */
                auto component = dep->getHandle<bedrock::ComponentPtr>();
                if(!component) throw Exception("test_cxx: null ComponentPtr for \"group\"");
                provider = static_cast<flock_provider_t>(component->getHandle());
                if(dep->getHandle<flock_provider_t>() != provider)
                    throw Exception("test_cxx: getHandle<flock_provider_t>() disagrees");
            } else {
                /* "type:id@address": a thallium::provider_handle, as upstream;
                 * the C handle is there too when the address is our own */
                auto ph = dep->getHandle<thallium::provider_handle>();
                if(ph.is_null() || ph.provider_id() != 1)
                    throw Exception("test_cxx: bad provider_handle for \"group\"");
                const std::string address = static_cast<std::string>(ph);
                r << ",\"group_address\":" << quote(address);
                provider = dep->getHandle<flock_provider_t>();
                remote   = address != static_cast<std::string>(args.engine.self());
            }
            if(remote) {
                /* a group of another process: only its handle to check */
                if(provider) throw Exception("test_cxx: a remote group came with a local handle");
                r << ",\"group_remote\":true";
            } else {
                if(!provider) throw Exception("test_cxx: null flock_provider_t for \"group\"");
                char* config = flock_provider_get_config(provider);
                if(!config) throw Exception("test_cxx: flock_provider_get_config returned NULL");
                const bool has_group = std::strstr(config, "\"group\"") != nullptr;
                std::free(config);
                if(!has_group) throw Exception("test_cxx: flock config without \"group\"");
                r << ",\"group_ok\":true";
            }
            auto pdep = std::dynamic_pointer_cast<bedrock::ProviderDependency>(dep);
            if(!pdep) throw Exception("test_cxx: \"group\" is not a ProviderDependency");
            r << ",\"group\":" << quote(dep->getName()) << ",\"group_provider_id\":" << pdep->getProviderID();
        }

        /* margo (optional) */
        auto margo_it = args.dependencies.find("margo");
        if(margo_it != args.dependencies.end()) {
            const auto& dep = margo_it->second.at(0);
            if(dep->getHandle<margo_instance_id>() != args.engine.get_margo_instance())
                throw Exception("test_cxx: margo dependency is not the provider's engine");
            r << ",\"margo\":" << quote(dep->getName()) << ",\"margo_ok\":true";
        }

        /* peer (optional test_cxx provider) */
        auto peer_it = args.dependencies.find("peer");
        if(peer_it != args.dependencies.end()) {
            const auto& dep  = peer_it->second.at(0);
            auto        peer = std::dynamic_pointer_cast<CxxComponent>(
                dep->getHandle<bedrock::ComponentPtr>());
            if(!peer) throw Exception("test_cxx: peer is not a CxxComponent");
            if(dep->getHandle<void*>() != peer.get())
                throw Exception("test_cxx: peer handle mismatch");
            r << ",\"peer\":" << quote(dep->getName()) << ",\"peer_is_cxx\":true";
        }

        /* xs (optional xstream) */
        auto xs_it = args.dependencies.find("xs");
        if(xs_it != args.dependencies.end())
            r << ",\"xs\":" << quote(xs_it->second.at(0)->getName());

        r << ",\"bad_cast_throws\":" << (bad_cast_throws ? "true" : "false")
          << ",\"config\":" << (args.config.empty() ? "{}" : args.config) << "}";
        return std::make_shared<CxxComponent>(r.str());
    }

    static std::vector<bedrock::Dependency>
    GetDependencies(const bedrock::ComponentArgs& args) {
        /* Per provider: "need_margo": true in the config makes the margo
         * dependency required. */
        const bool need_margo = args.config.find("\"need_margo\":true") != std::string::npos;
        return {
            {"pool", "pool", true, false, false},
            {"group", "flock", false, false, false},
            {"margo", "margo", need_margo, false, false},
            {"peer", "test_cxx", false, false, false},
            {"xs", "xstream", false, false, false},
        };
    }

    void* getHandle() override { return this; }

    std::string getConfig() override { return m_report; }
};

BEDROCK_REGISTER_COMPONENT_TYPE(test_cxx, CxxComponent)
