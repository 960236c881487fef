#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace mmsmon {

/// Talks to the service manager (systemd's notify protocol, through libsystemd's
/// sd_notify): READY, RELOADING, STOPPING, STATUS, and the watchdog. Without
/// $NOTIFY_SOCKET every call is a no-op. Each message that cannot be delivered is reported
/// through `on_error` (`first` for the first of a run of failures); the daemon goes on.
class ServiceNotifier {
 public:
  using OnError = std::function<void(const std::string& message, bool first)>;

  explicit ServiceNotifier(OnError on_error);
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  /// READY=1 with a status line.
  void ready(const std::string& status);
  /// RELOADING=1 with MONOTONIC_USEC (follow with ready()).
  void reloading();
  /// STOPPING=1.
  void stopping();
  /// STATUS=<one line>.
  void status(const std::string& status);

  /// When systemd asked for a watchdog ($WATCHDOG_USEC for this process), sends WATCHDOG=1
  /// from the event loop at half the period, so a stuck loop gets the service restarted;
  /// `status_line` is sent along every few seconds. Returns the period (zero when off).
  std::chrono::microseconds start_watchdog(boost::asio::any_io_executor ex,
                                           std::function<std::string()> status_line);
  /// Stops the watchdog pings (at shutdown).
  void stop_watchdog();

  std::uint64_t failures() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace mmsmon
