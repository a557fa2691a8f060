// A webhook_deliveries row as SQL returns it (dwctl's columns).
export type DeliveryStatus = "pending" | "delivered" | "failed" | "exhausted";

export type DeliveryRow = {
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  payload: unknown;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: Date;
  resource_id: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
};
