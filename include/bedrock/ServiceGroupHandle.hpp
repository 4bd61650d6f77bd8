/*
 * bedrock/ServiceGroupHandle.hpp -- handle on several Bedrock daemons (an
 * address list or a Flock group). The class is defined in
 * bedrock/Client.hpp (with Client and ServiceHandle, which it needs); see
 * there for the API and its differences from upstream.
 */
#ifndef BEDROCK_CXX_SERVICE_GROUP_HANDLE_HPP
#define BEDROCK_CXX_SERVICE_GROUP_HANDLE_HPP

#include <bedrock/Client.hpp>

#endif /* BEDROCK_CXX_SERVICE_GROUP_HANDLE_HPP */
