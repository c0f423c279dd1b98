"""Domain: the centre's back office, staff accounts (with their roles and township limits) and the
residents' concerns workflow (受理 → 交办 → 办理中 → 已办结 → 回访). Imports only the kernel."""
