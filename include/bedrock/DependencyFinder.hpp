/*
 * bedrock/DependencyFinder.hpp -- deliberately not provided (BEDROCK_NOT_PROVIDED):
 * including it stops the build with the reason, rather than a missing
 * file or a class whose calls fail later.
 */
#ifndef BEDROCK_CXX_DEPENDENCYFINDER_HPP
#define BEDROCK_CXX_DEPENDENCYFINDER_HPP
#error "bedrock::DependencyFinder is not provided by this implementation (libmochi): a component receives its resolved dependencies in ComponentArgs::dependencies, and a Bedrock server resolves dependency specs when a provider is created"
#endif /* BEDROCK_CXX_DEPENDENCYFINDER_HPP */
