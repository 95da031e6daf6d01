"""Appointment check-in (the e网通 green channel), on every terminal's menu: the appointment's
QR code shown to the camera (or its number typed on the pad), confirmed by central, and a
priority ticket with the counter, the time and how many are ahead."""
