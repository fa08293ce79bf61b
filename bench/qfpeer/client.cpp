// The client of the catch-up bench: a QuickFIX C++ initiator with validation on (the stock
// FIXT.1.1 and FIX 5.0 SP2 dictionaries), the same for the bridge and for the peer.
//
// Usage: qfclient <settings file> <expected messages> [resend]
// Logs on (ResetSeqNumFlag=Y), counts application messages until it has the expected number
// or stdin closes, then prints one line:
//   received <n> rejects <r> logon_ns <t> first_ns <t> last_ns <t>
// (wall-clock ns: the Logon reply, the first and the last application message).
// With "resend" it then sends ResendRequest 1..0 and counts the ExecutionReports that come
// back with PossDupFlag=Y (read from the session log's incoming side: the engine drops them
// as duplicates before the application sees them) until it has the expected number again,
// and adds to the line:  resent <n> resend_request_ns <t> resend_last_ns <t>
#include <quickfix/Application.h>
#include <quickfix/MessageStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>
#include <quickfix/Log.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

namespace {

long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Counts incoming ExecutionReports marked PossDupFlag=Y, once armed.
class ResendCounter {
 public:
  void arm(long expected) {
    expected_ = expected;
    armed_ = true;
  }
  void incoming(const std::string& message) {
    if (!armed_ || message.find("\00135=8\001") == std::string::npos ||
        message.find("\00143=Y\001") == std::string::npos)
      return;
    last_ns_ = now_ns();
    if (++count_ >= expected_) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_all();
    }
  }
  bool wait_until(long long deadline_ns) {
    std::unique_lock<std::mutex> lock(mutex_);
    while (count_ < expected_ && !stop_) {
      if (done_.wait_for(lock, std::chrono::milliseconds(100)) == std::cv_status::timeout &&
          now_ns() > deadline_ns)
        break;
    }
    return count_ >= expected_;
  }
  void stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    done_.notify_all();
  }
  long count() const { return count_; }
  long long last_ns() const { return last_ns_; }

 private:
  std::atomic<bool> armed_{false};
  std::atomic<long> expected_{0}, count_{0};
  std::atomic<long long> last_ns_{0};
  std::mutex mutex_;
  std::condition_variable done_;
  bool stop_ = false;
};

class CountingLog : public FIX::Log {
 public:
  explicit CountingLog(ResendCounter& counter) : counter_(counter) {}
  void clear() override {}
  void backup() override {}
  void onIncoming(const std::string& message) override { counter_.incoming(message); }
  void onOutgoing(const std::string&) override {}
  void onEvent(const std::string&) override {}

 private:
  ResendCounter& counter_;
};

class CountingLogFactory : public FIX::LogFactory {
 public:
  explicit CountingLogFactory(ResendCounter& counter) : counter_(counter) {}
  FIX::Log* create() override { return new CountingLog(counter_); }
  FIX::Log* create(const FIX::SessionID&) override { return new CountingLog(counter_); }
  void destroy(FIX::Log* log) override { delete log; }

 private:
  ResendCounter& counter_;
};

class Client : public FIX::Application {
 public:
  explicit Client(long expected) : expected_(expected) {}
  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID& id) override {
    session_ = id;
    logon_ns_ = now_ns();
  }
  void onLogout(const FIX::SessionID&) override {}
  void toAdmin(FIX::Message& message, const FIX::SessionID&) override {
    if (message.getHeader().getField(FIX::FIELD::MsgType) == "3") ++rejects_;
  }
  void toApp(FIX::Message& message, const FIX::SessionID&) throw(FIX::DoNotSend) override {
    if (message.getHeader().getField(FIX::FIELD::MsgType) == "j") ++rejects_;
  }
  void fromAdmin(const FIX::Message&, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
             FIX::RejectLogon) override {}
  void fromApp(const FIX::Message&, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
             FIX::UnsupportedMessageType) override {
    long long t = now_ns();
    if (received_ == 0) first_ns_ = t;
    last_ns_ = t;
    if (++received_ >= expected_) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_all();
    }
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return received_ >= expected_ || stop_; });
  }
  void stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    done_.notify_all();
  }
  FIX::SessionID session() const { return session_; }
  long received() const { return received_; }
  void report() const {
    std::cout << "received " << received_ << " rejects " << rejects_ << " logon_ns "
              << logon_ns_ << " first_ns " << first_ns_ << " last_ns " << last_ns_
;
  }

 private:
  FIX::SessionID session_;
  long expected_;
  std::atomic<long> received_{0};
  std::atomic<long> rejects_{0};
  std::atomic<long long> logon_ns_{0}, first_ns_{0}, last_ns_{0};
  std::mutex mutex_;
  std::condition_variable done_;
  bool stop_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && !(argc == 4 && std::string(argv[3]) == "resend")) {
    std::cerr << "usage: qfclient <settings> <expected> [resend]" << std::endl;
    return 2;
  }
  try {
    FIX::SessionSettings settings(argv[1]);
    long expected = std::stol(argv[2]);
    Client client(expected);
    ResendCounter counter;
    CountingLogFactory logs(counter);
    FIX::MemoryStoreFactory store;
    FIX::SocketInitiator initiator(client, store, settings, logs);
    initiator.start();
    std::thread watcher([&client, &counter] {
      std::string line;
      std::getline(std::cin, line);  // stdin closed: stop waiting
      client.stop();
      counter.stop();
    });
    watcher.detach();
    client.wait();
    client.report();
    if (argc == 4 && client.received() >= expected) {
      counter.arm(expected);
      FIX::Message request;
      request.getHeader().setField(FIX::FIELD::MsgType, "2");
      request.setField(7, "1");
      request.setField(16, "0");
      long long requested = now_ns();
      FIX::Session::sendToTarget(request, client.session());
      counter.wait_until(requested + 120LL * 1000000000LL);
      std::cout << " resent " << counter.count() << " resend_request_ns " << requested
                << " resend_last_ns " << counter.last_ns();
    }
    std::cout << std::endl;
    initiator.stop(true);
  } catch (const std::exception& e) {
    std::cerr << "qfclient: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
