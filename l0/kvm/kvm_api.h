// Owners of the three kinds of KVM file descriptor (/dev/kvm, a VM, a vCPU)
// and the ioctls the kvm engine uses (Documentation/virt/kvm/api.rst).
// Every failing ioctl throws KvmError naming the ioctl and the errno, so a
// caller never has to check return codes and a failure always says where.
#pragma once
#include <linux/kvm.h>
#include <signal.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace nestbed::kvm {

struct KvmError : std::runtime_error {
  KvmError(const std::string& what, int error_number);
  int error_number;
};

// A file descriptor closed when its owner goes away.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor();

  int get() const { return fd_; }
  int release();

 private:
  int fd_ = -1;
};

inline constexpr const char* KVM_DEVICE = "/dev/kvm";

// /dev/kvm: the system-wide ioctls.
class KvmSystem {
 public:
  // Opens /dev/kvm; throws KvmError (e.g. ENOENT, EACCES) when it cannot.
  KvmSystem();
  int fd() const { return fd_.get(); }
  int api_version() const;
  // KVM_CHECK_EXTENSION: 0 when the capability is missing, else its value.
  int check_extension(long capability) const;
  // KVM_GET_SUPPORTED_CPUID: every leaf KVM can give a guest on this host.
  std::vector<kvm_cpuid_entry2> supported_cpuid() const;
  size_t vcpu_mmap_size() const;

 private:
  FileDescriptor fd_;
};

// One MSR range whose RDMSR/WRMSR KVM must hand to user space
// (KVM_X86_SET_MSR_FILTER with the range denied).
struct UserSpaceMsrRange {
  uint32_t first;
  uint32_t count;
};

class KvmVm {
 public:
  explicit KvmVm(const KvmSystem& kvm);
  int fd() const { return fd_.get(); }
  int check_extension(long capability) const;
  // Guest-physical [gpa, gpa+size) is host memory at `host` (KVM_SET_USER_MEMORY_REGION).
  void map_memory(uint32_t slot, uint64_t gpa, void* host, uint64_t size);
  // RDMSR/WRMSR exit to user space as KVM_EXIT_X86_RDMSR/WRMSR for the
  // MSRs in `filtered`, and for any access KVM itself would refuse
  // (KVM_CAP_X86_USER_SPACE_MSR with KVM_MSR_EXIT_REASON_FILTER and _INVAL).
  // The second is how x2APIC MSRs reach user space: KVM's filter never
  // applies to 0x800-0x8ff, and without an in-kernel APIC it refuses them.
  void route_msrs_to_user_space(const std::vector<UserSpaceMsrRange>& filtered);

 private:
  FileDescriptor fd_;
};

class KvmVcpu {
 public:
  KvmVcpu(const KvmSystem& kvm, const KvmVm& vm, unsigned id);
  ~KvmVcpu();
  KvmVcpu(const KvmVcpu&) = delete;
  KvmVcpu& operator=(const KvmVcpu&) = delete;

  int fd() const { return fd_.get(); }
  // The shared kvm_run page: exit information out, interrupt requests in.
  kvm_run& shared() { return *run_; }
  const kvm_run& shared() const { return *run_; }

  // KVM_RUN. Returns false when a signal interrupted it (EINTR, exit reason
  // KVM_EXIT_INTR), true after any other exit; throws on a real failure.
  bool run();

  kvm_regs regs() const;
  void set_regs(const kvm_regs& regs);
  kvm_sregs sregs() const;
  void set_sregs(const kvm_sregs& sregs);
  void set_cpuid(const std::vector<kvm_cpuid_entry2>& entries);
  void set_msr(uint32_t index, uint64_t value);
  // Signals unblocked while the vCPU runs in the guest (KVM_SET_SIGNAL_MASK).
  void set_signal_mask(const sigset_t& mask);
  // Queues an external interrupt (KVM_INTERRUPT; only without an in-kernel irqchip).
  void inject_interrupt(uint8_t vector);
  void inject_nmi();  // KVM_NMI
  // The guest's TSC frequency in kHz (KVM_GET_TSC_KHZ): the host's unless scaled.
  uint32_t tsc_khz() const;

 private:
  FileDescriptor fd_;
  kvm_run* run_ = nullptr;
  size_t run_size_ = 0;
};

}  // namespace nestbed::kvm
