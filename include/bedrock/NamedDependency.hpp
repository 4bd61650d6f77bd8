/*
 * bedrock/NamedDependency.hpp -- a resolved dependency of a component, as
 * handed to a module's Register function in ComponentArgs::dependencies
 * (header-only; upstream Bedrock's class and method names).
 *
 * getName()  the resolved name Bedrock reports: pool name, xstream name,
 *            margo engine index ("0"), local provider name, or
 *            "type:id@address" for a provider given with a locator.
 * getType()  the declared type: "pool", "xstream", "margo", or a module name.
 * getHandle<H>()  the handle, as upstream types it:
 *
 *   type          H that works
 *   ------------  ---------------------------------------------------------
 *   pool          thallium::pool, ABT_pool, void*
 *   margo         margo_instance_id, thallium::engine, void*
 *   xstream       void* (always NULL: this implementation exposes xstreams
 *                 by name only; upstream's thallium::xstream is not provided)
 *   provider,     bedrock::ComponentPtr (std::shared_ptr<AbstractComponent>):
 *   local, given  the component itself when it was made by a C++ module of
 *   by name or    this process, otherwise a proxy whose getHandle() returns
 *   type:id       the provider's handle (so the upstream idiom
 *                 static_cast<flock_provider_t>(
 *                     dep->getHandle<bedrock::ComponentPtr>()->getHandle())
 *                 works for a flock group); also void* and any other object
 *                 pointer type, e.g. flock_provider_t, which return the
 *                 provider's handle directly
 *   provider      thallium::provider_handle (address + provider id), as
 *   with a        upstream; void* / pointer types return the C handle Bedrock
 *   locator (@)   passed (the component's handle for @local, else NULL)
 *
 * Any other H throws bedrock::Exception("Could not cast NamedDependency
 * \"<name>\" (type should be \"<type>\")").
 *
 * ProviderDependency (providers only) adds getProviderID().
 */
#ifndef BEDROCK_CXX_NAMED_DEPENDENCY_HPP
#define BEDROCK_CXX_NAMED_DEPENDENCY_HPP

#include <bedrock/Exception.hpp>
#include <thallium.hpp>

#include <any>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace bedrock {

class NamedDependency {
  public:
    template <typename T>
    NamedDependency(std::string name, std::string type, T&& handle)
    : m_name(std::move(name))
    , m_type(std::move(type))
    , m_handle(std::forward<T>(handle)) {}

    NamedDependency(NamedDependency&& other) = default;

    virtual ~NamedDependency() = default;

    const std::string& getName() const { return m_name; }

    const std::string& getType() const { return m_type; }

    template <typename H> H getHandle() const {
        if(const H* h = std::any_cast<H>(&m_handle)) return *h;
        if constexpr(std::is_pointer<H>::value) {
            if(m_has_raw && isPointerCompatible<H>())
                return static_cast<H>(m_raw);
        }
        if constexpr(std::is_same<H, thallium::engine>::value) {
            if(m_type == "margo")
                if(const margo_instance_id* mid
                   = std::any_cast<margo_instance_id>(&m_handle))
                    return thallium::engine(*mid);
        }
        throw Exception("Could not cast NamedDependency \"" + m_name
                        + "\" (type should be \"" + m_type + "\")");
    }

    /* Ours: the C handle Bedrock passed for this dependency
     * (bedrock_resolved_dependency::handles[i] in bedrock/module.h). */
    void* getRawHandle() const noexcept { return m_raw; }

    /* Ours: used by the module adapter (bedrock/AbstractComponent.hpp). */
    void setRawHandle(void* raw) noexcept {
        m_raw     = raw;
        m_has_raw = true;
    }

  protected:
    template <typename H> bool isPointerCompatible() const {
        if(std::is_same<H, void*>::value) return true;
        if(m_type == "pool") return std::is_same<H, ABT_pool>::value;
        if(m_type == "margo") return std::is_same<H, margo_instance_id>::value;
        if(m_type == "xstream") return false;
        /* A provider: its handle is whatever its module hands out. */
        return !std::is_function<std::remove_pointer_t<H>>::value;
    }

    std::string m_name;
    std::string m_type;
    std::any    m_handle;
    void*       m_raw     = nullptr;
    bool        m_has_raw = false;
};

class ProviderDependency : public NamedDependency {
  public:
    template <typename T>
    ProviderDependency(std::string name, std::string type, T handle,
                       uint16_t provider_id)
    : NamedDependency(std::move(name), std::move(type), std::move(handle))
    , m_provider_id(provider_id) {}

    uint16_t getProviderID() const { return m_provider_id; }

  protected:
    uint16_t m_provider_id;
};

} // namespace bedrock

#endif /* BEDROCK_CXX_NAMED_DEPENDENCY_HPP */
