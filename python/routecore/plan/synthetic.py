"""A generated plan of any size, for load-time measurements and benchmarks."""

from __future__ import annotations


def synthetic_plan_text(tenants: int = 10_000, numbers_per_tenant: int = 2) -> str:
    """YAML of a plan with `tenants` tenants, each with two groups, a menu and its numbers.

    Numbers are `400` + 7 digits, so at most 10,000,000 numbers in all.
    """
    if tenants * numbers_per_tenant > 10_000_000:
        raise ValueError("at most 10,000,000 numbers (400 + 7 digits)")
    out = [
        "version: 1",
        "timezone: Asia/Shanghai",
        "schedules:",
        "  office:",
        "    calendar: cn",
        '    hours: {workday: ["09:00-12:00", "13:30-18:00"], sat: ["10:00-16:00"]}',
        "lists:",
        '  vip: {numbers: ["13800000001", "0755 8600 0001"]}',
        '  virtual: {patterns: ["_170XXXXXXXX", "_171XXXXXXXX"], reason: 虚拟号段}',
        "blocklists: [virtual]",
        "rates:",
        "  default: {mobile: 0.20, landline: 0.15, sip: 0.05}",
        "tenants:",
    ]
    n = 0
    for t in range(tenants):
        out += [
            f"  t{t}:",
            f"    name: 租户{t}",
            f"    display: {{name: 公司{t}, tag: 客服热线}}",
            "    allowlists: [vip]",
            "    limits: {per_caller: {calls: 5, window_seconds: 60}}",
            "    groups:",
            "      desk:",
            "        strategy: round_robin",
            "        targets:",
            f'          - {{number: "138{t:08d}", ring_seconds: 20}}',
            f'          - {{number: "139{t:08d}", schedule: office, max_calls: 2}}',
            "        overflow: {voicemail: box}",
            "      branches:",
            "        strategy: region",
            "        targets:",
            f'          - {{number: "0755{t:08d}", regions: [广东/深圳]}}',
            f'          - {{number: "010{t:08d}"}}',
            "    menus:",
            "      main:",
            "        prompt: welcome",
            '        options: {"1": {forward: desk}, "2": {forward: branches}}',
            "        timeout: {forward: desk}",
            "    numbers:",
        ]
        for _ in range(numbers_per_tenant):
            out += [
                f'      "400{n:07d}":',
                "        flow:",
                "          - {id: vip, when: {caller_list: vip}, forward: desk}",
                "          - {id: south, when: {caller_region: [广东], schedule: office}, forward: branches}",
                "          - {id: open, when: {schedule: office}, menu: main}",
                "          - {id: closed, announce: closed}",
            ]
            n += 1
    return "\n".join(out) + "\n"
