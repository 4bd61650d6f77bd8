/*
 * bedrock/MPIEnv.hpp -- deliberately not provided (BEDROCK_NOT_PROVIDED):
 * including it stops the build with the reason, rather than a missing
 * file or a class whose calls fail later.
 */
#ifndef BEDROCK_CXX_MPIENV_HPP
#define BEDROCK_CXX_MPIENV_HPP
#error "bedrock::MPIEnv is not provided by this implementation (libmochi): the daemon exchanges addresses with MPI only for name@RANK dependencies, which it resolves itself"
#endif /* BEDROCK_CXX_MPIENV_HPP */
