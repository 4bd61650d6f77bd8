/*
 * bedrock/VoidPtr.hpp -- an untyped pointer with the function that
 * releases it (upstream Bedrock's move-only VoidPtr), header-only. The
 * release function runs once, when the last owner goes away.
 */
#ifndef BEDROCK_CXX_VOID_PTR_HPP
#define BEDROCK_CXX_VOID_PTR_HPP

#include <functional>
#include <utility>

namespace bedrock {

struct VoidPtr {
    void*                      handle = nullptr;
    std::function<void(void*)> clear;

    VoidPtr() = default;

    template <typename T, typename F>
    VoidPtr(T* h, F&& release)
    : handle(static_cast<void*>(h))
    , clear(std::forward<F>(release)) {}

    template <typename T>
    VoidPtr(T* h)
    : handle(static_cast<void*>(h)) {}

    VoidPtr(const VoidPtr&)            = delete;
    VoidPtr& operator=(const VoidPtr&) = delete;

    VoidPtr(VoidPtr&& other) noexcept
    : handle(std::exchange(other.handle, nullptr))
    , clear(std::exchange(other.clear, nullptr)) {}

    VoidPtr& operator=(VoidPtr&& other) noexcept {
        if(this != &other) {
            release();
            handle = std::exchange(other.handle, nullptr);
            clear  = std::exchange(other.clear, nullptr);
        }
        return *this;
    }

    ~VoidPtr() { release(); }

  private:
    void release() {
        if(clear) clear(handle);
        clear  = nullptr;
        handle = nullptr;
    }
};

} // namespace bedrock

#endif /* BEDROCK_CXX_VOID_PTR_HPP */
