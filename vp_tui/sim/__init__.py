"""The embedded demo cloud: Vast.ai and RunPod emulators and demo SSH hosts."""
