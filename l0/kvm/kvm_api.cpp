#include "l0/kvm/kvm_api.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace nestbed::kvm {
namespace {

// ioctl() that retries when a signal interrupts it before it did anything
// (only KVM_RUN's EINTR means something, and KvmVcpu::run handles that itself).
int checked_ioctl(int fd, unsigned long request, const char* name, unsigned long arg = 0) {
  int rc;
  do rc = ::ioctl(fd, request, arg);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) throw KvmError(name, errno);
  return rc;
}

template <typename T>
int checked_ioctl(int fd, unsigned long request, const char* name, T* arg) {
  return checked_ioctl(fd, request, name, reinterpret_cast<unsigned long>(arg));
}

// Linux's sigset_t for KVM_SET_SIGNAL_MASK is 8 bytes on x86-64, not glibc's 128.
constexpr uint32_t KERNEL_SIGSET_BYTES = 8;

// <linux/kvm.h> before Linux 6.5 declares its flexible arrays with
// __DECLARE_FLEX_ARRAY, which in C++ (not C) puts a 1-byte empty struct in
// front of the array: struct kvm_cpuid2 becomes 12 bytes with its entries at
// offset 12 instead of 8, and the ioctl numbers, which encode the struct's
// size, change (KVM then answers EINVAL). So the ioctls that take such a
// struct are built here from the kernel's C layout: a fixed header, then the array.
struct CpuidHeader {  // struct kvm_cpuid2
  uint32_t nent;
  uint32_t padding;
};
struct MsrsHeader {  // struct kvm_msrs
  uint32_t nmsrs;
  uint32_t pad;
};
struct SignalMaskHeader {  // struct kvm_signal_mask
  uint32_t len;
};
constexpr unsigned long GET_SUPPORTED_CPUID = _IOWR(KVMIO, 0x05, CpuidHeader);  // 0xc008ae05 in C
constexpr unsigned long SET_CPUID2 = _IOW(KVMIO, 0x90, CpuidHeader);            // 0x4008ae90
constexpr unsigned long SET_MSRS = _IOW(KVMIO, 0x89, MsrsHeader);               // 0x4008ae89
constexpr unsigned long SET_SIGNAL_MASK = _IOW(KVMIO, 0x8b, SignalMaskHeader);  // 0x4004ae8b
static_assert(GET_SUPPORTED_CPUID == 0xc008ae05 && SET_CPUID2 == 0x4008ae90 && SET_MSRS == 0x4008ae89 &&
              SET_SIGNAL_MASK == 0x4004ae8b);

// A header followed by `count` array elements, zeroed, in one buffer.
template <typename Header, typename Element>
class FlexibleArrayBuffer {
 public:
  explicit FlexibleArrayBuffer(size_t count) : bytes_(sizeof(Header) + count * sizeof(Element), 0) {}
  Header* header() { return reinterpret_cast<Header*>(bytes_.data()); }
  Element* elements() { return reinterpret_cast<Element*>(bytes_.data() + sizeof(Header)); }

 private:
  std::vector<uint8_t> bytes_;  // operator new's alignment suits every header and element here
};

}  // namespace

KvmError::KvmError(const std::string& what, int error)
    : std::runtime_error(what + ": " + std::strerror(error)), error_number(error) {}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

int FileDescriptor::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

KvmSystem::KvmSystem() {
  int fd = ::open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
  if (fd < 0) throw KvmError(std::string("cannot open ") + KVM_DEVICE, errno);
  fd_ = FileDescriptor(fd);
}

int KvmSystem::api_version() const { return checked_ioctl(fd(), KVM_GET_API_VERSION, "KVM_GET_API_VERSION"); }

int KvmSystem::check_extension(long capability) const {
  return checked_ioctl(fd(), KVM_CHECK_EXTENSION, "KVM_CHECK_EXTENSION", capability);
}

std::vector<kvm_cpuid_entry2> KvmSystem::supported_cpuid() const {
  // The ioctl says E2BIG until the buffer holds every leaf; hosts have ~60-100.
  for (uint32_t capacity = 128;; capacity *= 2) {
    FlexibleArrayBuffer<CpuidHeader, kvm_cpuid_entry2> cpuid(capacity);
    cpuid.header()->nent = capacity;
    if (::ioctl(fd(), GET_SUPPORTED_CPUID, cpuid.header()) == 0)
      return std::vector<kvm_cpuid_entry2>(cpuid.elements(), cpuid.elements() + cpuid.header()->nent);
    if (errno != E2BIG || capacity >= 4096) throw KvmError("KVM_GET_SUPPORTED_CPUID", errno);
  }
}

size_t KvmSystem::vcpu_mmap_size() const {
  return size_t(checked_ioctl(fd(), KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE"));
}

KvmVm::KvmVm(const KvmSystem& kvm) : fd_(checked_ioctl(kvm.fd(), KVM_CREATE_VM, "KVM_CREATE_VM")) {}

int KvmVm::check_extension(long capability) const {
  return checked_ioctl(fd(), KVM_CHECK_EXTENSION, "KVM_CHECK_EXTENSION (VM)", capability);
}

void KvmVm::map_memory(uint32_t slot, uint64_t gpa, void* host, uint64_t size) {
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.guest_phys_addr = gpa;
  region.memory_size = size;
  region.userspace_addr = reinterpret_cast<uint64_t>(host);
  checked_ioctl(fd(), KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION", &region);
}

void KvmVm::route_msrs_to_user_space(const std::vector<UserSpaceMsrRange>& filtered) {
  if (filtered.size() > KVM_MSR_FILTER_MAX_RANGES) throw std::logic_error("too many MSR filter ranges");
  kvm_enable_cap cap{};
  cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
  // Not KVM_MSR_EXIT_REASON_UNKNOWN: MSRs KVM does not know at all stay a #GP it raises itself.
  cap.args[0] = KVM_MSR_EXIT_REASON_FILTER | KVM_MSR_EXIT_REASON_INVAL;
  checked_ioctl(fd(), KVM_ENABLE_CAP, "KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR)", &cap);

  // A clear bit denies the MSR to KVM, which then exits to user space.
  // KVM copies the bitmaps during the ioctl; they need not outlive it.
  std::vector<std::vector<uint8_t>> bitmaps;
  bitmaps.reserve(filtered.size());
  kvm_msr_filter filter{};
  filter.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
  for (size_t i = 0; i < filtered.size(); ++i) {
    bitmaps.emplace_back((filtered[i].count + 7) / 8, 0);
    filter.ranges[i].flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
    filter.ranges[i].base = filtered[i].first;
    filter.ranges[i].nmsrs = filtered[i].count;
    filter.ranges[i].bitmap = bitmaps.back().data();
  }
  checked_ioctl(fd(), KVM_X86_SET_MSR_FILTER, "KVM_X86_SET_MSR_FILTER", &filter);
}

KvmVcpu::KvmVcpu(const KvmSystem& kvm, const KvmVm& vm, unsigned id)
    : fd_(checked_ioctl(vm.fd(), KVM_CREATE_VCPU, "KVM_CREATE_VCPU", id)), run_size_(kvm.vcpu_mmap_size()) {
  void* p = ::mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  if (p == MAP_FAILED) throw KvmError("mmap of the vCPU's kvm_run", errno);
  run_ = static_cast<kvm_run*>(p);
}

KvmVcpu::~KvmVcpu() { ::munmap(run_, run_size_); }

bool KvmVcpu::run() {
  if (::ioctl(fd(), KVM_RUN, 0) == 0) return true;
  if (errno == EINTR) {
    run_->exit_reason = KVM_EXIT_INTR;  // what KVM reports for a signal, set here for older kernels too
    return false;
  }
  throw KvmError("KVM_RUN", errno);
}

kvm_regs KvmVcpu::regs() const {
  kvm_regs r{};
  checked_ioctl(fd(), KVM_GET_REGS, "KVM_GET_REGS", &r);
  return r;
}

void KvmVcpu::set_regs(const kvm_regs& r) { checked_ioctl(fd(), KVM_SET_REGS, "KVM_SET_REGS", &r); }

kvm_sregs KvmVcpu::sregs() const {
  kvm_sregs s{};
  checked_ioctl(fd(), KVM_GET_SREGS, "KVM_GET_SREGS", &s);
  return s;
}

void KvmVcpu::set_sregs(const kvm_sregs& s) { checked_ioctl(fd(), KVM_SET_SREGS, "KVM_SET_SREGS", &s); }

void KvmVcpu::set_cpuid(const std::vector<kvm_cpuid_entry2>& entries) {
  FlexibleArrayBuffer<CpuidHeader, kvm_cpuid_entry2> cpuid(entries.size());
  cpuid.header()->nent = uint32_t(entries.size());
  std::memcpy(cpuid.elements(), entries.data(), entries.size() * sizeof(kvm_cpuid_entry2));
  checked_ioctl(fd(), SET_CPUID2, "KVM_SET_CPUID2", cpuid.header());
}

void KvmVcpu::set_msr(uint32_t index, uint64_t value) {
  FlexibleArrayBuffer<MsrsHeader, kvm_msr_entry> msrs(1);
  msrs.header()->nmsrs = 1;
  msrs.elements()[0].index = index;
  msrs.elements()[0].data = value;
  // KVM_SET_MSRS returns how many MSRs it set: 0 means it refused this one.
  if (checked_ioctl(fd(), SET_MSRS, "KVM_SET_MSRS", msrs.header()) != 1) {
    char what[48];
    std::snprintf(what, sizeof what, "KVM_SET_MSRS(0x%x)", index);
    throw KvmError(what, EINVAL);
  }
}

void KvmVcpu::set_signal_mask(const sigset_t& mask) {
  FlexibleArrayBuffer<SignalMaskHeader, uint8_t> arg(KERNEL_SIGSET_BYTES);
  arg.header()->len = KERNEL_SIGSET_BYTES;
  std::memcpy(arg.elements(), &mask, KERNEL_SIGSET_BYTES);  // glibc's sigset_t starts with the kernel's 64 bits
  checked_ioctl(fd(), SET_SIGNAL_MASK, "KVM_SET_SIGNAL_MASK", arg.header());
}

void KvmVcpu::inject_interrupt(uint8_t vector) {
  kvm_interrupt irq{};
  irq.irq = vector;
  checked_ioctl(fd(), KVM_INTERRUPT, "KVM_INTERRUPT", &irq);
}

void KvmVcpu::inject_nmi() { checked_ioctl(fd(), KVM_NMI, "KVM_NMI"); }

uint32_t KvmVcpu::tsc_khz() const { return uint32_t(checked_ioctl(fd(), KVM_GET_TSC_KHZ, "KVM_GET_TSC_KHZ")); }

}  // namespace nestbed::kvm
