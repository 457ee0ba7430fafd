#pragma once
/// rmpi's exceptions. Every message names what failed and where (host, port,
/// rank, file:line), so that it can be printed as one line to a user.
#include <stdexcept>
#include <string>

namespace rmpi {

/// Base of every error rmpi throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A frame or message on the wire was malformed (bad header, bad payload).
class ProtocolError : public Error {
 public:
  using Error::Error;
};

/// A message was received as another type than the one it was sent as.
class TypeError : public Error {
 public:
  using Error::Error;
};

/// A place, node or process could not be started.
class SpawnError : public Error {
 public:
  using Error::Error;
};

/// A connection could not be made, was refused, or failed authentication.
class ConnectError : public Error {
 public:
  using Error::Error;
};

/// A name was not found: a named place, a registered place function.
class NameError : public Error {
 public:
  using Error::Error;
};

/// Bad user input: options, hostfiles, configs, arguments.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// The peer of a channel is gone (place exited, connection closed).
class ChannelClosed : public Error {
 public:
  using Error::Error;
};

}  // namespace rmpi
