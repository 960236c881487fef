#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/alert_policy.hpp"
#include "core/config.hpp"
#include "core/result.hpp"

namespace mmsmon {

/// Pushes alerts to the sinks of `alerts.sinks`, each with its own bounded queue, HTTP
/// client and worker on the event loop: submit() never blocks and never fails.
///
/// Alertmanager (`POST <url>/api/v2/alerts`): firing conditions are kept and sent again every
/// `resend_interval` with `endsAt` four intervals ahead (so an Alertmanager restart loses
/// nothing, and an mmsmon that dies lets them expire); a resolution is sent with `endsAt` =
/// when it resolved; an event is sent once with `endsAt` an hour after it.
/// Webhook: one POST per alert (the alert line's JSON), retried with backoff (1 s doubling
/// to 1 min) up to 10 times for network errors, timeouts, 408, 429 and 5xx; other answers
/// (3xx: redirects are not followed; 4xx) drop it at once. Drops are counted.
class AlertSinks {
 public:
  enum class EventKind { sent, failed, dropped };
  struct Observer {
    /// `n` alerts sent, one request failed, `n` alerts dropped; `queued` alerts wait now.
    std::function<void(const std::string& sink, EventKind kind, std::size_t n, std::size_t queued)>
        on_event;
    /// A message for the main log: `error` true for problems, false for recoveries.
    std::function<void(bool error, const std::string& message)> log;
  };

  /// Fails when a sink cannot be set up (a bad URL, an unreadable CA or password file).
  static Result<std::unique_ptr<AlertSinks>> create(boost::asio::any_io_executor ex,
                                                    const std::vector<SinkConfig>& sinks,
                                                    std::string generator_url, Observer obs);
  ~AlertSinks();
  AlertSinks(const AlertSinks&) = delete;
  AlertSinks& operator=(const AlertSinks&) = delete;

  /// Alerts already firing when mmsmon starts (from the state file): Alertmanager sinks keep
  /// sending them; nothing is said to webhooks.
  void seed(const std::vector<Alert>& firing);
  /// One alert line, as written to the alert log.
  void submit(const Alert& a);
  /// Ends the workers; returns how many alerts were still waiting (they are lost).
  std::size_t stop();
  std::vector<std::string> names() const;

  struct Impl;

 private:
  explicit AlertSinks(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// `Basic base64(user:password)`.
std::string basic_authorization(std::string_view user, std::string_view password);

}  // namespace mmsmon
