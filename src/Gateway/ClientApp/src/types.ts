// The gateway's JSON shapes (src/Gateway/*Api.cs), as the pages use them.

export interface EventSummary {
  eventId: string;
  name: string;
  venue: string;
  startsAt: string;
  salesOpenAt: string;
  onSale: boolean;
  currency: string;
  ticketLimitPerUser: number;
}

export interface Block {
  blockId: string;
  name: string;
  rows: number;
  seatsPerRow: number;
  price: number;
  totalSeats: number;
  availableSeats: number;
}

export interface EventDetail extends EventSummary {
  blocks: Block[];
  queue: { admissionsPerMinute: number; maxActiveShoppers: number; shoppingSessionSeconds: number; holdSeconds: number };
}

export interface Seat {
  seatId: string;
  row: string;
  number: number;
  status: "available" | "held" | "sold";
}

export type QueueStatusKind = "preQueue" | "waiting" | "admitted" | "expired";

export interface QueueResponse {
  eventId: string;
  eventName: string;
  ticket: string;
  ticketNumber: number | null;
  position: number | null;
  estimatedWaitSeconds: number | null;
  status: QueueStatusKind;
  servingCursor: number;
  salesOpenAt: string;
  paused: boolean;
  /** The event has started: the line no longer moves. */
  salesClosed: boolean;
  admissionToken?: string;
  admissionExpiresAt?: string;
}

export interface CursorMessage {
  eventId: string;
  servingCursor: number;
  lastIssued: number;
  opened: boolean;
  paused: boolean;
  admissionsPerMinute: number;
  /** How fast the line moves: the rate, or less while every shopping slot is taken. */
  pacePerMinute: number;
  salesClosed: boolean;
}

export interface AdmittedMessage {
  eventId: string;
  ticketNumber: number;
  admissionToken: string;
  admissionExpiresAt: string;
}

export interface TicketAssignedMessage {
  eventId: string;
  ticketNumber: number;
  position: number;
}

export type ReservationStatus = "pendingPayment" | "confirmed" | "expired" | "cancelled";

export interface Reservation {
  reservationId: string;
  eventId: string;
  blockId: string;
  seats: string[];
  amount: number;
  currency: string;
  status: ReservationStatus;
  createdAt: string;
  expiresAt: string;
  confirmedAt: string | null;
  closedAt: string | null;
  payment: { paymentId: string; provider: string; amount: number; refunded: boolean; approvedAt: string } | null;
}

export interface EventStats {
  eventId: string;
  waiting: number;
  admitted: number;
  activeShoppers: number;
  issued: number;
  servingCursor: number;
  preQueued: number;
  opened: boolean;
  paused: boolean;
  admissionsPerMinute: number;
  maxActiveShoppers: number;
  seatsTotal: number;
  seatsHeld: number;
  seatsSold: number;
}
