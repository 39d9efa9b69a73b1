// The Kafka topics of the system, as vers-integration.yaml creates them, and which event
// types travel on each.

/** Topic names. */
export const TOPICS = Object.freeze({
  users: 'user-events',
  orders: 'order-events',
  inventory: 'inventory-events',
  notifications: 'notification-events',
  deadLetter: 'dead-letter',
});

/** The event types each topic carries (anything else on it is dead-lettered by its consumers). */
export const EVENT_TYPES = Object.freeze({
  [TOPICS.users]: ['UserRegistered'],
  [TOPICS.orders]: ['OrderCreated', 'OrderCancelled'],
  [TOPICS.inventory]: ['InventoryReserved', 'InventoryRejected', 'InventoryReleased', 'InventoryLow'],
  [TOPICS.notifications]: ['NotificationRequested'],
  [TOPICS.deadLetter]: ['DeadLettered'],
});
