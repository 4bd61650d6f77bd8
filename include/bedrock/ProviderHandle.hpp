/*
 * bedrock/ProviderHandle.hpp -- a handle on a (possibly remote) provider:
 * thallium's provider_handle, under upstream Bedrock's name.
 */
#ifndef BEDROCK_CXX_PROVIDER_HANDLE_HPP
#define BEDROCK_CXX_PROVIDER_HANDLE_HPP

#include <thallium.hpp>

namespace bedrock {

using ProviderHandle = thallium::provider_handle;

} // namespace bedrock

#endif /* BEDROCK_CXX_PROVIDER_HANDLE_HPP */
